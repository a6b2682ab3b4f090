/**
 * A 5 ms heartbeat on this thread: stop() returns how late it ran at worst, the longest stretch the
 * thread was blocked (by anything on it) while it ran. Used by the extension-host tests and the bench.
 */
export function heartbeat(): { stop(): number } {
  const period = 5;
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - period);
    last = now;
  }, period);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(worst, performance.now() - last - period);
    },
  };
}
