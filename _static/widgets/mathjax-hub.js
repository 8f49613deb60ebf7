// The widget manager (embed-amd.js) typesets a widget's label with MathJax 2's
// `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`. The book loads MathJax 3, which has no
// Hub, so a page with a labelled widget stopped with a TypeError. This script runs after the
// page's MathJax configuration and before MathJax itself: once MathJax 3 is ready, its Hub is a
// stand-in that typesets the element with MathJax 3's own call. Pages without equations load no
// MathJax, and the widget manager then typesets nothing.
if (window.MathJax) {
  window.MathJax.startup = {
    ...window.MathJax.startup,
    ready() {
      MathJax.startup.defaultReady();
      MathJax.Hub = { Queue: ([, , element]) => MathJax.typesetPromise([element]) };
    },
  };
}
