import type { CliCommand } from '../io.js';

/** `clinic-sms serve`: the same as `npm start`. */
export const serve: CliCommand = async (_args, io) => {
  const { runMain } = await import('../../main.js');
  await runMain(io.env);
  return 0;
};
