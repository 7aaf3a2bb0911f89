import type { Patient, StaffRouting, ToStaff } from '../domain.js';
import { newId } from './conversation-service.js';
import type { PatientName, RoutedMessage } from './conversation.js';
import type { ConversationStore } from './conversation-store.js';

/** How staff see a patient in the list: the full name (the API is keyed and logged, as HIPAA asks). */
export function displayName(patient: Pick<Patient, 'firstName' | 'lastName'>): string {
  return `${patient.firstName} ${patient.lastName}`.trim();
}

/** A message for staff as the conversation store takes it. */
export function toRoutedMessage(item: ToStaff): RoutedMessage {
  return {
    clinicId: item.clinicId,
    phone: item.message.from,
    clinicNumber: item.message.to,
    messageSid: item.message.messageSid,
    at: item.at,
    body: item.message.body,
    ...(item.message.media.length > 0 ? { media: item.message.media.length } : {}),
    patients: item.patients.map((p): PatientName => ({ id: p.id, displayName: displayName(p) })),
    ...(item.priority === undefined ? {} : { priority: item.priority }),
    ...(item.priorityReason === undefined ? {} : { priorityReason: item.priorityReason }),
    ...(item.possibleOptOut ? { possibleOptOut: true as const } : {}),
  };
}

/**
 * The pipeline's staff port, implemented by the conversations: each message routed to staff
 * is one recordRouted (one database command), which opens the sender's conversation or
 * reopens a resolved, pending or snoozed one. The message itself, with what the rules did,
 * is in the thread through its audit record.
 * @param conversations - the conversation store
 */
export function conversationRouting(conversations: Pick<ConversationStore, 'recordRouted'>): StaffRouting {
  return {
    async routed(item: ToStaff): Promise<void> {
      await conversations.recordRouted(toRoutedMessage(item), newId('cv'));
    },
  };
}
