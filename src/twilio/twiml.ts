import twilio from 'twilio';

/**
 * Builds the TwiML answer: one <Message> with the text, or an empty <Response/> for no reply.
 * MessagingResponse escapes XML, so merge fields with <, & and quotes are safe.
 * @param text - the reply, or null for none
 */
export function renderTwiml(text: string | null): string {
  const response = new twilio.twiml.MessagingResponse();
  if (text !== null && text !== '') {
    response.message(text);
  }
  return response.toString();
}
