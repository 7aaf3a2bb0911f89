import { expect } from 'chai';
import { parseForm } from '../../../src/twilio/form-params.js';

/** What WHATWG parsing gives, grouped as parseForm groups it. */
function byUrlSearchParams(body: string): Record<string, string[]> {
  const out = Object.create(null) as Record<string, string[]>;
  for (const [key, value] of new URLSearchParams(body)) {
    (out[key] ??= []).push(value);
  }
  return { ...out };
}

const plain = (values: Record<string, string[]>): Record<string, string[]> => ({ ...values });

describe('parseForm', () => {
  const bodies = [
    'From=%2B13125550134&To=%2B16465550000&Body=Hello+world&NumMedia=0',
    'Body=Ana+Mar%C3%ADa+%F0%9F%98%80+%26+%3D+%2B+%25',
    'a=1&&b=2&',
    '&&&',
    '',
    '=x&y=&=&z',
    'k=v=w&k2==',
    'From%5B%24ne%5D=x&__proto__=p&constructor=c',
    'x=1&x=2&x=3&y=1',
    'bad=%E0%A4%A&ok=1',
    'stray=100%&ok=2',
    'lone=%ED%A0%80',
    'plus=a+b%2Bc&space=%20',
    'Body=' + encodeURIComponent('日本語 مرحبا ñ \n\r\t "quotes" <tags>'),
  ];
  for (const body of bodies) {
    it(`when the body is ${JSON.stringify(body.slice(0, 40))}, then the pairs are those URLSearchParams gives`, () => {
      const form = parseForm(body);
      expect(plain(form.values)).to.deep.equal(byUrlSearchParams(body));
      expect(Object.getPrototypeOf(form.values)).to.equal(null);
      const counts = byUrlSearchParams(body);
      expect(form.repeated).to.deep.equal(Object.keys(counts).filter((k) => (counts[k] as string[]).length > 1));
    });
  }

  it('when random bytes are form-encoded, then the pairs are always those URLSearchParams gives', () => {
    let seed = 42;
    const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const alphabet = ['a', 'B', '=', '&', '+', '%', '%2', '%41', '%C3%A9', '%FF', '%E2%82', '%F0%9F%98%80', ' ', '~', '.', '_'];
    for (let n = 0; n < 2000; n += 1) {
      const body = Array.from({ length: Math.floor(next() * 20) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      expect(plain(parseForm(body).values), body).to.deep.equal(byUrlSearchParams(body));
    }
  });
});
