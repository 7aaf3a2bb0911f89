const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';
const EMPTY_RESPONSE = `${XML_DECLARATION}<Response/>`;

/** Characters XML 1.0 does not allow at all (not even escaped), and lone surrogates. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ILLEGAL_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const TEXT_ESCAPES = /[&<>\r]/g;
const ESCAPED: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };

/**
 * Text content escaped as twilio's MessagingResponse (xmlbuilder) escapes it, byte for byte.
 * Characters XML cannot carry are dropped: xmlbuilder would throw on them, and the patient
 * should still get the rest of the reply.
 */
export function escapeXmlText(text: string): string {
  return text.replace(ILLEGAL_XML_CHARS, '').replace(TEXT_ESCAPES, (c) => ESCAPED[c] as string);
}

/**
 * Builds the TwiML answer: one <Message> with the text, or an empty <Response/> for no reply.
 * The same bytes twilio.twiml.MessagingResponse produces (a unit test holds them equal), at a
 * fraction of the cost: the builder allocated an XML document for every request.
 * @param text - the reply, or null for none
 */
export function renderTwiml(text: string | null): string {
  if (text === null || text === '') {
    return EMPTY_RESPONSE;
  }
  return `${XML_DECLARATION}<Response><Message>${escapeXmlText(text)}</Message></Response>`;
}
