// Moved to src/sms-segments.ts (a leaf: the staff API caps reply segments with it too).
export * from '../../sms-segments.js';
