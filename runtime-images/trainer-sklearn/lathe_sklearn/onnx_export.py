"""A fitted scikit-learn estimator as an ONNX model following Lathe's ONNX artifact contract
(lathe_runtime.onnx_check), through skl2onnx, so the inference server runs it with ONNX
Runtime as KServe's sklearn runtime would run the pickle, without Python in the serving pod.

skl2onnx names the input and outputs after its own conventions and gives the probabilities of
``estimator.classes_`` only; the graph is completed here: the input is ``features``, the
classifier's ``label`` output is left out, and the probabilities pass through a constant 0/1
matrix that puts each of the estimator's classes in its column of ``schema.label.classes`` (a
class absent from the train split gets probability 0, as the trainer's metrics count it).
Multiplying by 1 and adding 0 is exact, so the padding changes no value.
"""

from lathe_runtime.onnx_check import CLASSIFICATION_OUTPUT, INPUT_NAME, REGRESSION_OUTPUT

# Opsets every ONNX Runtime of the last years runs (the server's onnxruntime-node included).
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def export_onnx(estimator, task, features_count, classes_count):
    """The ONNX model's bytes."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    initial = [(INPUT_NAME, FloatTensorType([None, features_count]))]
    if task == "regression":
        model = convert_sklearn(estimator, initial_types=initial, target_opset=TARGET_OPSET,
                                final_types=[("estimator_predictions", FloatTensorType([None, 1]))])
        graph = model.graph
        graph.node.append(helper.make_node("Identity", ["estimator_predictions"], [REGRESSION_OUTPUT]))
        width = 1
    else:
        known = estimator.classes_.astype(int)
        model = convert_sklearn(
            estimator, initial_types=initial, target_opset=TARGET_OPSET,
            options={id(estimator): {"zipmap": False}},
            final_types=[("estimator_label", Int64TensorType([None])),
                         ("estimator_probabilities", FloatTensorType([None, len(known)]))])
        graph = model.graph
        placement = np.zeros((len(known), classes_count), dtype=np.float32)
        placement[np.arange(len(known)), known] = 1
        graph.initializer.append(numpy_helper.from_array(placement, "schema_class_placement"))
        graph.node.append(helper.make_node("MatMul", ["estimator_probabilities", "schema_class_placement"],
                                           [CLASSIFICATION_OUTPUT]))
        width = classes_count
    name = REGRESSION_OUTPUT if task == "regression" else CLASSIFICATION_OUTPUT
    del graph.output[:]
    # skl2onnx may use the contract's output name inside its graph (a classifier's
    # intermediate "probabilities"): those become another name, the last node keeps it.
    _rename_inner(graph, name, "estimator_" + name + "_inner", keep=graph.node[-1])
    graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, width]))
    model.doc_string = "Lathe scikit-learn trainer: " + type(estimator).__name__
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _rename_inner(graph, name, replacement, keep):
    """Every use of tensor ``name`` in ``graph`` but ``keep``'s output becomes ``replacement``."""
    for node in graph.node:
        for i, value in enumerate(node.input):
            if value == name:
                node.input[i] = replacement
        if node is keep:
            continue
        for i, value in enumerate(node.output):
            if value == name:
                node.output[i] = replacement
    for info in graph.value_info:
        if info.name == name:
            info.name = replacement
