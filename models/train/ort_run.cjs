// Helper for the Python export/fixture scripts: run an ONNX model with onnxruntime-node (the
// runtime the app ships) on float32 inputs stored as <dir>/<name>.f32; writes <dir>/pred.f32.
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');

async function main() {
  const [model, dir, shapesJson] = process.argv.slice(2);
  const shapes = JSON.parse(shapesJson);
  const session = await ort.InferenceSession.create(model);
  const feeds = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const buf = fs.readFileSync(path.join(dir, `${name}.f32`));
    feeds[name] = new ort.Tensor(
      'float32',
      new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4),
      shape,
    );
  }
  const out = await session.run(feeds);
  fs.writeFileSync(path.join(dir, 'pred.f32'), Buffer.from(out.pred.data.buffer));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
