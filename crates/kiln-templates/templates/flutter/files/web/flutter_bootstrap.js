{{flutter_js}}
{{flutter_build_config}}

// The prerendered summary in index.html is for readers and checks without JavaScript;
// once the app runs it would only sit underneath, so it is removed.
_flutter.loader.load({
  onEntrypointLoaded: async function (engineInitializer) {
    const appRunner = await engineInitializer.initializeEngine();
    const summary = document.getElementById('kiln-summary');
    if (summary) summary.remove();
    await appRunner.runApp();
  },
});
