import { wantsHelp, type CliCommand } from '../io.js';

const USAGE = [
  'usage: clinic-sms serve',
  '  Serves the webhook (the same as npm start). Configured by the environment (PORT, HOST,',
  '  MONGODB_URI, TWILIO_AUTH_TOKEN, ...: see docs/operations.md, Environment); takes no options.',
];

/** `clinic-sms serve`: the same as `npm start`. */
export const serve: CliCommand = async (args, io) => {
  if (wantsHelp(args)) {
    USAGE.forEach((l) => io.out(l));
    return 0;
  }
  if (args.length > 0) {
    io.err(`error: serve takes no arguments (got ${args[0]})`);
    USAGE.forEach((l) => io.err(l));
    return 2;
  }
  const { runMain } = await import('../../main.js');
  await runMain(io.env);
  return 0;
};
