/**
 * Reading what reached staff in tests: the sender's conversation, and the messages the
 * pipeline put there (the real conversation store behind a port that notes each one).
 */
import type { Conversation } from '../../src/conversations/conversation.js';
import type { ConversationStore } from '../../src/conversations/conversation-store.js';
import { conversationRouting } from '../../src/conversations/staff-routing.js';
import type { StaffRouting, ToStaff } from '../../src/domain.js';

/** The conversation of clinic + phone, or null. */
export async function conversationOf(conversations: Pick<ConversationStore, 'list'>, clinicId: string, phone: string, now: Date = new Date()): Promise<Conversation | null> {
  const { conversations: all } = await conversations.list({ clinicId, limit: 1000, now });
  return all.find((c) => c.phone === phone) ?? null;
}

/** The conversations' staff port (`staff`), noting every message routed through it in `items`. */
export function notingRouting(conversations: Pick<ConversationStore, 'recordRouted'>): { staff: StaffRouting; items: ToStaff[] } {
  const items: ToStaff[] = [];
  return { items, staff: noting(conversationRouting(conversations), items) };
}

/**
 * A staff port that notes every message routed through `inner` in `items`.
 * @param inner - the real port
 * @param items - where each routed message is noted, in order
 */
export function noting(inner: StaffRouting, items: ToStaff[]): StaffRouting {
  return {
    async routed(item) {
      await inner.routed(item);
      items.push(item);
    },
  };
}
