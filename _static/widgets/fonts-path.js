// The widget manager (embed-amd.js) defines its modules as "@jupyter-widgets/..." and fetches
// the icon fonts from the folder that require.js resolves a module's name to: by default under
// the page's own folder, which has none. Every such name resolves to this script's folder
// instead, which holds them ("@jupyter-widgets/html-manager/dist/libembed-amd" included).
{
  const folder = document.currentScript.src.replace(/\/[^/]*$/, "");
  require.config({
    paths: {
      "@jupyter-widgets": folder,
      "@jupyter-widgets/html-manager/dist": folder,
    },
  });
}
