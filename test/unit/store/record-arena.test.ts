import { expect } from 'chai';
import { RecordArena } from '../../../src/store/memory/record-arena.js';

describe('RecordArena', () => {
  it('when texts of every kind are put, then each comes back byte for byte by its handle', () => {
    const arena = new RecordArena();
    const texts = ['', 'CONFIRM', 'Sí, confirmo 👍 — café', '"quoted" \\ back\nslash', 'x'.repeat(300_000), '\u0000\uffff'];
    const handles = texts.map((t) => arena.put(t));
    expect(handles.map((h) => arena.get(h))).to.deep.equal(texts);
  });

  it('when entries fill many chunks and are released oldest first, then emptied chunks are returned and held memory stays bounded', () => {
    const arena = new RecordArena();
    const text = 'r'.repeat(1000);
    const live: number[] = [];
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      live.push(arena.put(`${i}:${text}`));
      if (live.length > 2000) {
        arena.release(live.shift() as number);
      }
      most = Math.max(most, arena.heldBytes);
    }
    // 2,000 live entries of ~1 KB: 2 MB, plus the chunk being filled and the one being emptied.
    expect(most).to.be.at.most(4 * 1024 * 1024);
    expect(arena.get(live[0] as number)).to.equal(`18000:${text}`);
    expect(arena.get(live[1999] as number)).to.equal(`19999:${text}`);
  });

  it('when entries are released as fast as they are put (the store at its bound), then emptied chunks are reused instead of new ones allocated', () => {
    const arena = new RecordArena();
    const text = 'r'.repeat(1000);
    const live: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      live.push(arena.put(`${i}:${text}`));
      if (live.length > 2000) {
        arena.release(live.shift() as number);
      }
    }
    // 50 MB went through the arena; 2 MB of it live at a time.
    expect(arena.allocatedChunks).to.be.at.most(5);
    expect(arena.get(live[0] as number)).to.equal(`48000:${text}`);
    expect(arena.get(live[1999] as number)).to.equal(`49999:${text}`);
  });

  it('when a released slot is reused, then older handles in other chunks still read their own text', () => {
    const arena = new RecordArena();
    const big = arena.put('b'.repeat(400_000));
    const small = arena.put('small');
    arena.release(big);
    const again = arena.put('c'.repeat(500_000));
    expect(arena.get(small)).to.equal('small');
    expect(arena.get(again)).to.equal('c'.repeat(500_000));
  });

  it('when a handle was released, then reading it fails loudly instead of returning another entry', () => {
    const arena = new RecordArena();
    const big = arena.put('b'.repeat(400_000));
    arena.release(big);
    expect(() => arena.get(big)).to.throw(RangeError);
  });
});
