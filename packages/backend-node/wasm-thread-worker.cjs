'use strict';
// The pthread worker of tfjs-backend-wasm's threaded SIMD build, for Node's worker_threads.
// tfjs 4.22 hands emscripten its worker script and main script as Blob URLs, which worker_threads
// cannot load; robust-ft's wasm-threads.ts points emscripten here instead (see its comments).
// This runs the worker code tfjs ships (wasm-out/…worker.js, the same text tfjs inlines in its
// bundle) and loads the threaded glue from its file where the worker would import the Blob.
const path = require('node:path');

const wasmOut = path.join(
  path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')),
  'wasm-out',
);
const { wasmWorkerContents } = require(path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js'));
// The exported text keeps "\n" escapes raw inside its string literals (tfjs escapes them the same way).
new Function('require', '__filename', wasmWorkerContents.replace(/\n/g, '\\n'))(require, __filename);
const importScripts = global.importScripts;
global.importScripts = (file) =>
  importScripts(
    String(file).startsWith('blob:') ? path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js') : file,
  );
