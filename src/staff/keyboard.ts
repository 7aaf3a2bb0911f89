/**
 * The staff pages' keyboard shortcuts: one table (as Chatwoot keeps its SHORTCUT_KEYS in
 * one constants file). The `?` dialog is rendered from it, and staff.js reads the rendered
 * table's data-key / data-action attributes, so the keys and their help never disagree.
 * Shortcuts are single keys and do nothing while typing in a field (Escape leaves it).
 */
export interface Shortcut {
  /** KeyboardEvent.key */
  key: string;
  /** What staff.js does: one of its named actions. */
  action: 'next' | 'previous' | 'reply' | 'note' | 'resolve' | 'help' | 'search' | 'leave';
  /** How the help dialog says it. */
  label: string;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { key: 'j', action: 'next', label: 'Next conversation in the list' },
  { key: 'k', action: 'previous', label: 'Previous conversation in the list' },
  { key: 'r', action: 'reply', label: 'Write a reply to the patient' },
  { key: 'n', action: 'note', label: 'Write an internal note' },
  { key: 'e', action: 'resolve', label: 'Resolve the open conversation' },
  { key: '/', action: 'search', label: 'Search by phone or name' },
  { key: '?', action: 'help', label: 'Show these keys' },
  { key: 'Escape', action: 'leave', label: 'Leave the field you are typing in' },
];
