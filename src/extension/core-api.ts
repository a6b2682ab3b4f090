/**
 * Everything the extension asks of the core, bundled on its own (dist/core.js) and
 * loaded on first use, so that activation only registers commands. Import it as a
 * type only (`import type * as Core`) and load it with loadCore() in core.ts.
 */
export { InputError } from '../core/errors';
export { DEFAULT_HARDWARE, getPreset, isPresetName, listPresets } from '../core/hardware/presets';
export { readHardwareProfileFile } from '../core/files';
export { loadModel } from '../core/model/load';
export { numericsFor } from '../core/report/numerics';
export { fullReport } from '../core/report/full';
export { profile } from '../core/report/profile';
export { pytorchModule } from '../core/codegen/pytorch';
export { formatCsv, formatMarkdown, toChromeTrace, workloadLine } from '../core/report/formats';
export { compareHardware, compareRuns, formatComparisonMarkdown, formatRunsMarkdown, workloadVariants } from '../core/report/compare';
export { DEFAULT_WORKLOAD } from '../core/workload';
export { buildPanelView, buildSweepView, inputOf, withKernelOverrides, workloadFor, workloadOf } from '../common/panel-view';
export { standaloneHtml } from '../common/report-html';
export { readLatestMeasurements } from '../common/measured-file';
// The binary-model viewer and the chat tool.
export { readModelFileHeader } from './model-viewer/read-header';
export { chatParts, headlineFigures, profileChecked } from '../core/report/brief';
// Model configs in the editor: hovers, CodeLens, status bar, diagnostics.
export { analyzeConfigText } from './editor/analysis';
export { FILE_CAPS } from '../core/files';
// The validation's headline in the panel (a checkout's fixtures).
export { formatValidation, validate, validationHeadline } from '../core/validate/validate';
export { validationInputs } from '../cli/validate';
