// The dashboard's Alpine.js components, registered by name: the CSP build of Alpine evaluates no strings.
document.addEventListener("alpine:init", () => {
  // A section shown or hidden by a button (the hold form).
  window.Alpine.data("disclosure", () => ({
    open: false,
    get expanded() {
      return this.open ? "true" : "false";
    },
    toggle() {
      this.open = !this.open;
    },
  }));
});

// The floor screens, for a handheld scanner: the scan field keeps the focus (a keyboard-wedge scanner
// types the code and Enter into it), and each scan's outcome sounds: a short high beep when good, a low
// double buzz when refused. The sound is generated here with WebAudio: no audio file is loaded.
(() => {
  let audio = null;

  function tone(frequency, start, length, wave) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = wave;
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.2, audio.currentTime + start);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + start + length);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(audio.currentTime + start);
    oscillator.stop(audio.currentTime + start + length);
  }

  function beep(good) {
    try {
      audio = audio || new AudioContext();
      if (good) {
        tone(1760, 0, 0.09, "sine");
      } else {
        tone(180, 0, 0.16, "square");
        tone(180, 0.22, 0.16, "square");
      }
    } catch (_error) {
      // No sound where the browser allows none; the colour and the message remain.
    }
  }

  function scanField() {
    return document.querySelector("input[data-scan]");
  }

  // After each page or swap: sound the new signal once, and put the cursor back in the scan field.
  function settle() {
    const signal = document.querySelector("[data-signal]:not([data-sounded])");
    if (signal) {
      signal.setAttribute("data-sounded", "");
      beep(signal.getAttribute("data-signal") === "good");
      document.body.setAttribute("data-last-signal", signal.getAttribute("data-signal"));
    }
    const field = scanField();
    if (field && !document.querySelector("dialog[open]")) {
      field.focus();
    }
  }

  // A click on nothing that takes input (the table, the page) gives the focus back to the scan field;
  // Tab still reaches every button, link and field.
  document.addEventListener("click", (event) => {
    const field = scanField();
    if (field && !event.target.closest("a, button, input, select, textarea, label, summary, details")) {
      field.focus();
    }
  });
  document.addEventListener("DOMContentLoaded", settle);
  document.addEventListener("htmx:afterSettle", settle);
})();
