// ipywidgets 8 typesets widget labels through MathJax 2's API, MathJax.Hub.Queue(["Typeset",
// MathJax.Hub, element]). This site runs MathJax 3, which has no Hub, so without this every
// widget label throws "Cannot read properties of undefined (reading 'Queue')".
// Loaded with defer after MathJax's own script (see book/_ext/offline_site.py).
if (window.MathJax && window.MathJax.startup && !window.MathJax.Hub) {
  window.MathJax.Hub = {
    Queue: (command) =>
      MathJax.startup.promise.then(() => MathJax.typesetPromise([command[2]])),
  };
}
