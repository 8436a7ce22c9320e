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
