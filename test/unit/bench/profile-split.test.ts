import { expect } from 'chai';
import { splitProfile } from '../../../bench/profile-split.js';

const frame = (functionName: string, url = ''): { functionName: string; url: string } => ({ functionName, url });

describe('bench profile split', () => {
  it('when samples run library code called from the service, then they count for the service folder that called it; idle is left out', () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 4, 6, 7] },
        { id: 2, callFrame: frame('claimMessage', 'file:///srv/app/dist/src/store/memory/memory-store.js'), children: [3] },
        { id: 3, callFrame: frame('structuredClone') },
        { id: 4, callFrame: frame('runEngine', 'file:///srv/app/dist/src/rules/evaluate.js'), children: [5] },
        { id: 5, callFrame: frame('evaluate', 'file:///srv/app/node_modules/json-rules-engine/dist/rule.js') },
        { id: 6, callFrame: frame('respond', 'file:///srv/app/node_modules/koa/lib/application.js') },
        { id: 7, callFrame: frame('(idle)') },
      ],
      samples: [3, 5, 5, 6, 7, 7],
      timeDeltas: [10, 10, 10, 20, 500, 500],
    };
    const split = new Map(splitProfile(profile).map((p) => [p.part.split(':')[0]?.split(' (')[0], p.share]));
    expect(split.get('embedded store')).to.equal(0.2);
    expect(split.get('rules')).to.equal(0.4);
    expect(split.get('Node and Koa')).to.equal(0.4);
    expect([...split.values()].reduce((a, b) => a + b, 0)).to.equal(1);
  });
});
