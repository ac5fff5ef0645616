import * as tf from '@tensorflow/tfjs-core';

/** What `saveToMemory` needs of a layers model; structural, so `@robust-ft/core` stays free of tfjs-layers. */
export interface SavableModel {
  save(handler: tf.io.IOHandler, config?: tf.io.SaveConfig): Promise<tf.io.SaveResult>;
}

/**
 * Saves `model` through an in-memory handler (with its optimizer unless told otherwise) and returns
 * the artifacts, for save → `tf.loadLayersModel(tf.io.fromMemory(artifacts))` round-trip tests.
 */
export async function saveToMemory(
  model: SavableModel,
  includeOptimizer = true,
): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer },
  );
  if (!artifacts) throw new Error('saveToMemory: the model did not hand its artifacts to the save handler');
  return artifacts;
}
