// Live updates: the server's stream of changes (/live, server-sent events) refreshes, without a reload, each
// part of the page marked data-live="<topics>" (orders, inventory) when one of its topics changed. The
// part is fetched again from this page's own URL and swapped in by htmx (only that part: forms and
// what the user is typing stay as they are). The browser reconnects by itself after a stream ends,
// sending the last event's id, and the server answers at once with what changed in between; without a
// session the server answers 204 and the browser stops, until a page with live parts opens it again.
(() => {
  const REFRESH_DELAY_MS = 150; // changes that arrive together refresh a part once
  let source = null;
  const waiting = new Set();
  let timer = null;

  function liveParts(topics) {
    return [...document.querySelectorAll("[data-live][id]")].filter((part) =>
      part.dataset.live.split(" ").some((topic) => topics.has(topic)),
    );
  }

  function refresh() {
    timer = null;
    const topics = new Set(waiting);
    waiting.clear();
    const here = window.location.pathname + window.location.search;
    for (const part of liveParts(topics)) {
      const selector = "#" + part.id;
      window.htmx.ajax("GET", here, { target: selector, select: selector, swap: "outerHTML" });
    }
  }

  function changed(event) {
    for (const topic of event.data.split(" ")) waiting.add(topic);
    if (timer === null) timer = window.setTimeout(refresh, REFRESH_DELAY_MS);
  }

  function connect() {
    const open = source !== null && source.readyState !== EventSource.CLOSED;
    if (open || document.querySelector("[data-live]") === null) return;
    source = new EventSource("/live");
    source.addEventListener("ready", () => {
      document.body.dataset.liveState = "open";
    });
    source.addEventListener("change", changed);
    source.addEventListener("error", () => {
      document.body.dataset.liveState = source.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
    });
  }

  document.addEventListener("DOMContentLoaded", connect);
  document.addEventListener("htmx:afterSettle", connect);
})();
