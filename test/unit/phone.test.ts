import { expect } from 'chai';
import { maskPhone, toE164 } from '../../src/phone.js';

describe('phone numbers', () => {
  for (const input of ['(312) 555-0134', '312.555.0134', '312-555-0134', '+1 312 555 0134', '1-312-555-0134', ' 3125550134 ']) {
    it(`when written as "${input}", then it is stored as +13125550134`, () => {
      expect(toE164(input, 'US')).to.equal('+13125550134');
    });
  }

  it('when a number has no country code, then the clinic region is used', () => {
    expect(toE164('020 7946 0018', 'GB')).to.equal('+442079460018');
  });

  it('when the text is not a phone number, then the answer is null', () => {
    expect(toE164('call me', 'US')).to.equal(null);
    expect(toE164('12', 'US')).to.equal(null);
    expect(toE164('', 'US')).to.equal(null);
  });

  it('when masked, then at most the last two digits remain', () => {
    expect(maskPhone('+13125550134')).to.equal('***34');
    expect(maskPhone(undefined)).to.equal('');
  });
});
