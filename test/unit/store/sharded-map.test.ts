import { expect } from 'chai';
import { ShardedMap } from '../../../src/store/memory/sharded-map.js';

describe('ShardedMap (the embedded store\'s growing tables)', () => {
  it('when keys are set, read, replaced and deleted, then it answers as a Map would', () => {
    const sharded = new ShardedMap<number>();
    const plain = new Map<string, number>();
    const keys = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? `SM${i.toString(16).padStart(32, '0')}` : `clinic-${i % 7}\u0000+1312555${String(i).padStart(4, '0')}`));
    keys.push('', 'a', '__proto__');
    keys.forEach((k, i) => {
      sharded.set(k, i);
      plain.set(k, i);
    });
    for (const k of keys.filter((_, i) => i % 5 === 0)) {
      sharded.set(k, -1);
      plain.set(k, -1);
    }
    for (const k of keys.filter((_, i) => i % 11 === 0)) {
      expect(sharded.delete(k)).to.equal(plain.delete(k));
    }
    expect(sharded.delete('never there')).to.equal(false);
    expect(sharded.size).to.equal(plain.size);
    for (const k of keys) {
      expect(sharded.get(k)).to.equal(plain.get(k));
      expect(sharded.has(k)).to.equal(plain.has(k));
    }
    expect([...sharded.keys()].sort()).to.deep.equal([...plain.keys()].sort());
    expect([...sharded.values()].sort((a, b) => a - b)).to.deep.equal([...plain.values()].sort((a, b) => a - b));
  });

  it('when keys share a prefix and differ only at the end (MessageSids, phones), then they spread over many shards', () => {
    const sharded = new ShardedMap<number>();
    for (let i = 0; i < 25_600; i += 1) {
      sharded.set(`SM${i.toString(16).padStart(32, '0')}`, i);
    }
    const sizes = (sharded as unknown as { shards: Array<Map<string, number>> }).shards.map((m) => m.size);
    expect(Math.max(...sizes)).to.be.below(400); // 100 each if perfectly even
    expect(sizes.filter((n) => n === 0)).to.have.length(0);
  });
});
