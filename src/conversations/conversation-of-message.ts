import type { Store } from '../store/store.js';
import type { ConversationStore } from './conversation-store.js';

/**
 * The conversation a clinic's inbound message belongs to (its sender's), for access records
 * of media reads: null when the message is not the clinic's or reached no conversation.
 * @param deps - the main store (the message's sender) and the conversations
 */
export function conversationOfMessage(deps: { store: Pick<Store, 'getMessage'>; conversations: Pick<ConversationStore, 'conversationIdFor'> }) {
  return async function conversationOf(clinicId: string, messageSid: string): Promise<string | null> {
    const record = await deps.store.getMessage(messageSid);
    if (!record || record.clinicId !== clinicId) {
      return null;
    }
    return deps.conversations.conversationIdFor(clinicId, record.message.from);
  };
}
