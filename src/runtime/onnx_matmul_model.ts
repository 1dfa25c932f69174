/**
 * The ONNX model the native backend runs for every matmul: Y = op(A) @ op(B) on rank-3 operands
 * [batch, rows, cols] whose dimensions are all symbolic, so one loaded session serves every
 * shape (sessions load asynchronously, kernels must run synchronously: all four are loaded
 * before the first kernel). op is a Transpose of the last two axes when asked for; ONNX
 * Runtime's optimiser folds it into its MatMul, so no transposed copy is made.
 *
 * The model is four nodes, so it is written here as protobuf bytes (field numbers from onnx.proto,
 * https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) rather than through a protobuf library.
 */

/** ONNX IR version 8 with opset 17: what ONNX Runtime 1.14 and later load. */
const IR_VERSION = 8;
const OPSET = 17;
/** TensorProto.DataType.FLOAT */
const FLOAT = 1;
/** AttributeProto.AttributeType.INTS */
const ATTRIBUTE_INTS = 7;

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

function integerField(field: number, value: number): number[] {
  return [...varint((field << 3) | WIRE_VARINT), ...varint(value)];
}

function bytesField(field: number, bytes: readonly number[]): number[] {
  return [...varint((field << 3) | WIRE_BYTES), ...varint(bytes.length), ...bytes];
}

function stringField(field: number, text: string): number[] {
  return bytesField(field, [...new TextEncoder().encode(text)]);
}

/** ValueInfoProto of a float tensor whose dimensions are the named symbols (TensorShapeProto.Dimension.dim_param). */
function floatTensorInfo(name: string, dimensionNames: readonly string[]): number[] {
  const shape = dimensionNames.flatMap((dimension) => bytesField(1, stringField(2, dimension)));
  const tensorType = [...integerField(1, FLOAT), ...bytesField(2, shape)];
  return [...stringField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

/** NodeProto: inputs (1), outputs (2), op_type (4), attributes (5). */
function nodeProto(inputs: readonly string[], outputs: readonly string[], opType: string, attributes: number[][] = []) {
  return [
    ...inputs.flatMap((input) => stringField(1, input)),
    ...outputs.flatMap((output) => stringField(2, output)),
    ...stringField(4, opType),
    ...attributes.flatMap((attribute) => bytesField(5, attribute)),
  ];
}

/** Transpose of the last two axes of a rank-3 tensor: perm [0, 2, 1]. */
function swapLastAxes(input: string, output: string): number[] {
  const perm = [...stringField(1, 'perm'), ...[0, 2, 1].flatMap((axis) => integerField(8, axis))];
  return nodeProto([input], [output], 'Transpose', [[...perm, ...integerField(20, ATTRIBUTE_INTS)]]);
}

/** Input names of the model, and its output's. */
export const MATMUL_MODEL_NAMES = { a: 'a', b: 'b', product: 'product' } as const;

/**
 * ModelProto bytes of product = op(a) @ op(b): a [batch_a, ., .], b [batch_b, ., .] with
 * batch_a and batch_b equal or one of them 1 (ONNX MatMul broadcasts like numpy).
 */
export function matmulModelBytes(transposeA: boolean, transposeB: boolean): Uint8Array {
  const { a, b, product } = MATMUL_MODEL_NAMES;
  const nodes: number[][] = [];
  let left: string = a;
  let right: string = b;
  if (transposeA) {
    nodes.push(swapLastAxes(a, 'a_transposed'));
    left = 'a_transposed';
  }
  if (transposeB) {
    nodes.push(swapLastAxes(b, 'b_transposed'));
    right = 'b_transposed';
  }
  nodes.push(nodeProto([left, right], [product], 'MatMul'));
  // GraphProto: node (1), name (2), input (11), output (12).
  const graph = [
    ...nodes.flatMap((node) => bytesField(1, node)),
    ...stringField(2, 'matmul'),
    ...bytesField(11, floatTensorInfo(a, ['batch_a', 'a_rows', 'a_cols'])),
    ...bytesField(11, floatTensorInfo(b, ['batch_b', 'b_rows', 'b_cols'])),
    ...bytesField(12, floatTensorInfo(product, ['batch', 'm', 'n'])),
  ];
  // ModelProto: ir_version (1), graph (7), opset_import (8) of the default domain.
  return Uint8Array.from([
    ...integerField(1, IR_VERSION),
    ...bytesField(7, graph),
    ...bytesField(8, [...stringField(1, ''), ...integerField(2, OPSET)]),
  ]);
}
