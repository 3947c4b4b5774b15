/**
 * A timeout that reads what has already arrived before it gives up. When the event loop was busy past
 * a timer's due time, Node runs the due timers before it reads the sockets: an answer that arrived in
 * time during the stall would be thrown away and a healthy gate or Prometheus counted as too slow (on a
 * loaded machine, with answers just inside the limit, that aborted canaries). So the timer only queues
 * the timeout behind one pass over the sockets (setImmediate runs after the loop's poll phase).
 */
export function timeoutAfterArrivals(ms: number, onTimeout: () => void): { clear: () => void } {
  let immediate: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    immediate = setImmediate(onTimeout);
  }, ms);
  timer.unref();
  return {
    clear: () => {
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
    },
  };
}

/** An AbortSignal that aborts after `ms`, as AbortSignal.timeout does, but reads arrivals first. */
export function timeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  timeoutAfterArrivals(ms, () =>
    controller.abort(new DOMException(`timed out after ${ms / 1000}s`, "TimeoutError")),
  );
  return controller.signal;
}
