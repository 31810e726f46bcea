/** Stops what global-setup.ts started; jest runs both in its main process, so globalThis is shared. */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __pvStopTestServers?: () => Promise<void> }).__pvStopTestServers?.();
}
