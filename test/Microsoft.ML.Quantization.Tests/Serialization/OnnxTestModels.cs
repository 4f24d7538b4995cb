using Google.Protobuf;
using Microsoft.ML.Quantization.Serialization.Onnx;
using Microsoft.ML.Quantization.Serialization.Onnx.Proto;
using static Microsoft.ML.Quantization.Serialization.Onnx.OnnxGraphWriter;
using DataType = Microsoft.ML.Quantization.Serialization.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Quantization.Tests.Serialization;

/// <summary>One hand-built ONNX classifier: its bytes, the example shape of its input "x", and whether it reads token ids or ends in a Softmax.</summary>
public sealed record OnnxTestModel(string Name, byte[] Bytes, int[] InputShape, bool Tokens, bool Softmax, int Vocabulary = 0);

/// <summary>
/// ONNX classifiers written through the generated protobuf classes the way PyTorch's exporter writes them: constants as
/// Constant nodes, the Shape → Gather → Unsqueeze → Concat → Reshape flatten, BatchNormalization with its own ε, Gemm with transB,
/// MatMul followed by Add, an LSTM fed by a Transpose with zero initial states built from the batch size.
/// </summary>
internal static class OnnxTestModels
{
    public static IEnumerable<OnnxTestModel> All() => new[] { ConvNetOpset11(), MlpOpset13(), ResidualOpset17(), LstmOpset14(), MobileNetOpset13(), BranchesOpset17() };

    /// <summary>Conv → Relu → MaxPool → Conv → BatchNormalization(ε 1e-3) → Clip(0, 6) → Shape flatten → Gemm(transB) → Softmax.</summary>
    public static OnnxTestModel ConvNetOpset11()
    {
        var random = new Random(11);
        var w = new OnnxGraphWriter();
        w.Node("Conv", "/conv1/Conv", new[] { "x", w.Floats("conv1.weight", new[] { 4, 3, 3, 3 }, Values(random, 108, 0.4f)), w.Floats("conv1.bias", new[] { 4 }, Values(random, 4, 0.1f)) },
            "c1", Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1), Ints("strides", 1, 1), Ints("dilations", 1, 1), Int("group", 1));
        w.Node("Relu", "/relu/Relu", new[] { "c1" }, "r1");
        w.Node("MaxPool", "/pool/MaxPool", new[] { "r1" }, "p1", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2), Ints("pads", 0, 0, 0, 0), Int("ceil_mode", 0));
        w.Node("Conv", "/conv2/Conv", new[] { "p1", w.Floats("conv2.weight", new[] { 6, 4, 3, 3 }, Values(random, 216, 0.3f)) }, "c2", Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1));
        w.Node("BatchNormalization", "/bn/BatchNormalization", new[] { "c2", w.Floats("bn.weight", new[] { 6 }, Values(random, 6, 1f)), w.Floats("bn.bias", new[] { 6 }, Values(random, 6, 0.2f)),
            w.Floats("bn.running_mean", new[] { 6 }, Values(random, 6, 0.2f)), w.Floats("bn.running_var", new[] { 6 }, Values(random, 6, 0.5f).Select(v => v + 0.6f).ToArray()) },
            "b2", Float("epsilon", 1e-3f), Float("momentum", 0.9f));
        Constant(w, "clip_min", Scalar(0f));
        Constant(w, "clip_max", Scalar(6f));
        w.Node("Clip", "/relu6/Clip", new[] { "b2", "clip_min", "clip_max" }, "r2");
        Flatten(w, "r2", "flat", opset: 11);
        w.Node("Gemm", "/fc/Gemm", new[] { "flat", w.Floats("fc.weight", new[] { 5, 96 }, Values(random, 480, 0.2f)), w.Floats("fc.bias", new[] { 5 }, Values(random, 5, 0.1f)) },
            "logits", Float("alpha", 1f), Float("beta", 1f), Int("transB", 1));
        w.Node("Softmax", "/softmax/Softmax", new[] { "logits" }, "probabilities", Int("axis", 1));
        w.Value(true, "x", DataType.Float, new[] { 3, 8, 8 });
        w.Value(false, "probabilities", DataType.Float, new[] { 5 });
        return new OnnxTestModel("ConvNet, opset 11", w.ToModel(11), new[] { 3, 8, 8 }, Tokens: false, Softmax: true);
    }

    /// <summary>x / 255 → Conv → LeakyRelu → AveragePool → Flatten → MatMul + Add → Relu → Dropout → Gemm(transB 0, α, β).</summary>
    public static OnnxTestModel MlpOpset13()
    {
        var random = new Random(13);
        var w = new OnnxGraphWriter();
        Constant(w, "divisor", Scalar(255f));
        w.Node("Div", "/Div", new[] { "x", "divisor" }, "scaled");
        w.Node("Conv", "/conv/Conv", new[] { "scaled", w.Floats("conv.weight", new[] { 3, 2, 3, 3 }, Values(random, 54, 0.5f)), w.Floats("conv.bias", new[] { 3 }, Values(random, 3, 0.1f)) },
            "c", Ints("kernel_shape", 3, 3));
        w.Node("LeakyRelu", "/act/LeakyRelu", new[] { "c" }, "a", Float("alpha", 0.1f));
        w.Node("AveragePool", "/pool/AveragePool", new[] { "a" }, "p", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2));
        w.Node("Flatten", "/Flatten", new[] { "p" }, "f", Int("axis", 1));
        w.Node("MatMul", "/fc1/MatMul", new[] { "f", w.Floats("fc1.weight_t", new[] { 12, 8 }, Values(random, 96, 0.4f)) }, "m");
        w.Node("Add", "/fc1/Add", new[] { w.Floats("fc1.bias", new[] { 8 }, Values(random, 8, 0.1f)), "m" }, "h");
        w.Node("Relu", "/relu/Relu", new[] { "h" }, "r");
        Constant(w, "ratio", Scalar(0.5f));
        w.Node("Dropout", "/dropout/Dropout", new[] { "r", "ratio" }, "d");
        w.Node("Gemm", "/fc2/Gemm", new[] { "d", w.Floats("fc2.weight", new[] { 8, 4 }, Values(random, 32, 0.4f)), w.Floats("fc2.bias", new[] { 4 }, Values(random, 4, 0.1f)) },
            "logits", Float("alpha", 0.5f), Float("beta", 2f));
        w.Value(true, "x", DataType.Float, new[] { 2, 6, 6 });
        w.Value(false, "logits", DataType.Float, new[] { 4 });
        return new OnnxTestModel("MLP, opset 13", w.ToModel(13), new[] { 2, 6, 6 }, Tokens: false, Softmax: false);
    }

    /// <summary>A residual block: Conv → BN → Relu → Conv → BN → Add(x) → PRelu → GlobalAveragePool → Shape flatten → Gemm.</summary>
    public static OnnxTestModel ResidualOpset17()
    {
        var random = new Random(17);
        var w = new OnnxGraphWriter();
        void ConvBn(string name, string input, string output)
        {
            w.Node("Conv", $"/{name}/Conv", new[] { input, w.Floats($"{name}.weight", new[] { 4, 4, 3, 3 }, Values(random, 144, 0.3f)) }, output + ".conv", Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1));
            w.Node("BatchNormalization", $"/{name}/bn", new[] { output + ".conv", w.Floats($"{name}.bn.weight", new[] { 4 }, Values(random, 4, 1f)), w.Floats($"{name}.bn.bias", new[] { 4 }, Values(random, 4, 0.2f)),
                w.Floats($"{name}.bn.mean", new[] { 4 }, Values(random, 4, 0.2f)), w.Floats($"{name}.bn.var", new[] { 4 }, Values(random, 4, 0.4f).Select(v => v + 0.6f).ToArray()) }, output);
        }
        ConvBn("conv1", "x", "b1");
        w.Node("Relu", "/relu1/Relu", new[] { "b1" }, "r1");
        ConvBn("conv2", "r1", "b2");
        w.Node("Add", "/add/Add", new[] { "b2", "x" }, "sum");
        w.Node("PRelu", "/prelu/PRelu", new[] { "sum", w.Floats("prelu.weight", new[] { 1 }, new[] { 0.2f }) }, "act");
        w.Node("GlobalAveragePool", "/gap/GlobalAveragePool", new[] { "act" }, "gap");
        Flatten(w, "gap", "flat", opset: 17);
        w.Node("Gemm", "/fc/Gemm", new[] { "flat", w.Floats("fc.weight", new[] { 3, 4 }, Values(random, 12, 0.5f)), w.Floats("fc.bias", new[] { 3 }, Values(random, 3, 0.1f)) },
            "logits", Int("transB", 1));
        w.Value(true, "x", DataType.Float, new[] { 4, 6, 6 });
        w.Value(false, "logits", DataType.Float, new[] { 3 });
        return new OnnxTestModel("Residual, opset 17", w.ToModel(17), new[] { 4, 6, 6 }, Tokens: false, Softmax: false);
    }

    /// <summary>
    /// Token ids → Gather (embedding) → Transpose → LSTM (initial states zeros of [1, N, H] built from the batch size) → Squeeze(Y_h) → Gemm,
    /// as PyTorch writes <c>fc(lstm(embedding(x).transpose(0, 1))[1][0][0])</c>.
    /// </summary>
    public static OnnxTestModel LstmOpset14()
    {
        const int vocabulary = 20, dimension = 5, hidden = 6, tokens = 7;
        var random = new Random(14);
        var w = new OnnxGraphWriter();
        w.Node("Gather", "/embedding/Gather", new[] { w.Floats("embedding.weight", new[] { vocabulary, dimension }, Values(random, vocabulary * dimension, 1f)), "x" }, "e");
        w.Node("Transpose", "/Transpose", new[] { "e" }, "t", Ints("perm", 1, 0, 2));
        w.Node("Shape", "/Shape", new[] { "x" }, "shape");
        Constant(w, "zero", Longs(Array.Empty<long>(), 0));
        w.Node("Gather", "/Gather", new[] { "shape", "zero" }, "batch", Int("axis", 0));
        Constant(w, "axes", Longs(new long[] { 1 }, 0));
        w.Node("Unsqueeze", "/Unsqueeze", new[] { "batch", "axes" }, "batch1");
        Constant(w, "one", Longs(new long[] { 1 }, 1));
        Constant(w, "hidden", Longs(new long[] { 1 }, hidden));
        w.Node("Concat", "/Concat", new[] { "one", "batch1", "hidden" }, "state_shape", Int("axis", 0));
        w.Node("ConstantOfShape", "/ConstantOfShape", new[] { "state_shape" }, "h0", new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = FloatTensor(new long[] { 1 }, 0f) });
        w.Node("LSTM", "/lstm/LSTM", new[] { "t", w.Floats("W", new[] { 1, 4 * hidden, dimension }, Values(random, 4 * hidden * dimension, 0.5f)),
            w.Floats("R", new[] { 1, 4 * hidden, hidden }, Values(random, 4 * hidden * hidden, 0.5f)), w.Floats("B", new[] { 1, 8 * hidden }, Values(random, 8 * hidden, 0.3f)), "", "h0", "h0" },
            new[] { "Y", "Y_h", "Y_c" }, Int("hidden_size", hidden));
        Constant(w, "squeeze_axes", Longs(new long[] { 1 }, 0));
        w.Node("Squeeze", "/Squeeze", new[] { "Y_h", "squeeze_axes" }, "last");
        w.Node("Gemm", "/fc/Gemm", new[] { "last", w.Floats("fc.weight", new[] { 3, hidden }, Values(random, 3 * hidden, 0.5f)), w.Floats("fc.bias", new[] { 3 }, Values(random, 3, 0.1f)) },
            "logits", Int("transB", 1));
        w.Value(true, "x", DataType.Int64, new[] { tokens });
        w.Value(false, "logits", DataType.Float, new[] { 3 });
        return new OnnxTestModel("LSTM, opset 14", w.ToModel(14), new[] { tokens }, Tokens: true, Softmax: false, Vocabulary: vocabulary);
    }

    /// <summary>
    /// A MobileNet-v2-style block: 1×1 expansion → BN → ReLU6, depthwise 3×3 (group = channels) → BN → ReLU6, 1×1 projection
    /// → BN, residual Add, then a grouped 3×3 (two groups, stride 2), GlobalAveragePool, Flatten and Gemm.
    /// </summary>
    public static OnnxTestModel MobileNetOpset13()
    {
        var random = new Random(21);
        var w = new OnnxGraphWriter();
        Constant(w, "zero", Scalar(0f));
        Constant(w, "six", Scalar(6f));
        void ConvBn(string name, string input, string output, int outputs, int inputsPerGroup, int kernel, int groups, int stride, bool relu6)
        {
            int pad = kernel / 2;
            w.Node("Conv", $"/{name}/Conv", new[] { input, w.Floats($"{name}.weight", new[] { outputs, inputsPerGroup, kernel, kernel }, Values(random, outputs * inputsPerGroup * kernel * kernel, 0.5f)) },
                name + ".conv", Ints("kernel_shape", kernel, kernel), Ints("pads", pad, pad, pad, pad), Ints("strides", stride, stride), Int("group", groups));
            w.Node("BatchNormalization", $"/{name}/bn", new[] { name + ".conv", w.Floats($"{name}.bn.weight", new[] { outputs }, Values(random, outputs, 1f)),
                w.Floats($"{name}.bn.bias", new[] { outputs }, Values(random, outputs, 0.2f)), w.Floats($"{name}.bn.mean", new[] { outputs }, Values(random, outputs, 0.2f)),
                w.Floats($"{name}.bn.var", new[] { outputs }, Values(random, outputs, 0.4f).Select(v => v + 0.6f).ToArray()) }, relu6 ? name + ".bn" : output);
            if (relu6) w.Node("Clip", $"/{name}/Clip", new[] { name + ".bn", "zero", "six" }, output);
        }
        ConvBn("expand", "x", "e", 12, 4, 1, 1, 1, relu6: true);
        ConvBn("depthwise", "e", "d", 12, 1, 3, 12, 1, relu6: true);
        ConvBn("project", "d", "p", 4, 12, 1, 1, 1, relu6: false);
        w.Node("Add", "/add/Add", new[] { "x", "p" }, "sum");
        ConvBn("grouped", "sum", "g", 8, 2, 3, 2, 2, relu6: true);
        w.Node("GlobalAveragePool", "/gap/GlobalAveragePool", new[] { "g" }, "gap");
        w.Node("Flatten", "/Flatten", new[] { "gap" }, "flat", Int("axis", 1));
        w.Node("Gemm", "/fc/Gemm", new[] { "flat", w.Floats("fc.weight", new[] { 5, 8 }, Values(random, 40, 0.5f)), w.Floats("fc.bias", new[] { 5 }, Values(random, 5, 0.1f)) },
            "logits", Int("transB", 1));
        w.Value(true, "x", DataType.Float, new[] { 4, 8, 8 });
        w.Value(false, "logits", DataType.Float, new[] { 5 });
        return new OnnxTestModel("MobileNet block, opset 13", w.ToModel(13), new[] { 4, 8, 8 }, Tokens: false, Softmax: false);
    }

    /// <summary>
    /// torchvision's normalisation in the graph ((x − mean) / std per channel), two branches (Conv → PRelu per channel, Conv → Tanh) joined by
    /// Concat on the channels, Conv → Sigmoid, GlobalAveragePool, Flatten, Gemm.
    /// </summary>
    public static OnnxTestModel BranchesOpset17()
    {
        var random = new Random(31);
        var w = new OnnxGraphWriter();
        w.Node("Sub", "/normalize/Sub", new[] { "x", w.Floats("mean", new[] { 1, 3, 1, 1 }, new[] { 0.485f, 0.456f, 0.406f }) }, "centred");
        w.Node("Div", "/normalize/Div", new[] { "centred", w.Floats("std", new[] { 1, 3, 1, 1 }, new[] { 0.229f, 0.224f, 0.225f }) }, "normalized");
        w.Node("Conv", "/left/Conv", new[] { "normalized", w.Floats("left.weight", new[] { 5, 3, 3, 3 }, Values(random, 135, 0.3f)), w.Floats("left.bias", new[] { 5 }, Values(random, 5, 0.1f)) },
            "l", Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1));
        w.Node("PRelu", "/left/PRelu", new[] { "l", w.Floats("left.slopes", new[] { 5, 1, 1 }, Values(random, 5, 0.5f)) }, "lr");
        w.Node("Conv", "/right/Conv", new[] { "normalized", w.Floats("right.weight", new[] { 3, 3, 1, 1 }, Values(random, 9, 0.5f)) }, "r", Ints("kernel_shape", 1, 1));
        w.Node("Tanh", "/right/Tanh", new[] { "r" }, "rt");
        w.Node("Concat", "/Concat", new[] { "lr", "rt" }, "joined", Int("axis", 1));
        w.Node("Conv", "/mix/Conv", new[] { "joined", w.Floats("mix.weight", new[] { 6, 8, 3, 3 }, Values(random, 432, 0.3f)) }, "m", Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1), Ints("strides", 2, 2));
        w.Node("Sigmoid", "/mix/Sigmoid", new[] { "m" }, "gate");
        w.Node("GlobalAveragePool", "/gap", new[] { "gate" }, "gap");
        w.Node("Flatten", "/Flatten", new[] { "gap" }, "flat", Int("axis", 1));
        w.Node("Gemm", "/fc/Gemm", new[] { "flat", w.Floats("fc.weight", new[] { 4, 6 }, Values(random, 24, 1f)), w.Floats("fc.bias", new[] { 4 }, Values(random, 4, 0.1f)) },
            "logits", Int("transB", 1));
        w.Value(true, "x", DataType.Float, new[] { 3, 8, 8 });
        w.Value(false, "logits", DataType.Float, new[] { 4 });
        return new OnnxTestModel("Branches, opset 17", w.ToModel(17), new[] { 3, 8, 8 }, Tokens: false, Softmax: false);
    }

    /// <summary>PyTorch's <c>x.view(x.size(0), -1)</c>: Shape → Gather(0) → Unsqueeze → Concat with [−1] → Reshape.</summary>
    private static void Flatten(OnnxGraphWriter w, string input, string output, int opset)
    {
        w.Node("Shape", $"/{output}/Shape", new[] { input }, output + ".shape");
        Constant(w, output + ".zero", Longs(Array.Empty<long>(), 0));
        w.Node("Gather", $"/{output}/Gather", new[] { output + ".shape", output + ".zero" }, output + ".batch", Int("axis", 0));
        if (opset < 13)
        {
            w.Node("Unsqueeze", $"/{output}/Unsqueeze", new[] { output + ".batch" }, output + ".batch1", Ints("axes", 0));
        }
        else
        {
            Constant(w, output + ".axes", Longs(new long[] { 1 }, 0));
            w.Node("Unsqueeze", $"/{output}/Unsqueeze", new[] { output + ".batch", output + ".axes" }, output + ".batch1");
        }
        Constant(w, output + ".rest", Longs(new long[] { 1 }, -1));
        w.Node("Concat", $"/{output}/Concat", new[] { output + ".batch1", output + ".rest" }, output + ".target", Int("axis", 0));
        w.Node("Reshape", $"/{output}/Reshape", new[] { input, output + ".target" }, output);
    }

    private static void Constant(OnnxGraphWriter w, string name, TensorProto value) =>
        w.Node("Constant", name, Array.Empty<string>(), name, new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });

    public static TensorProto Longs(long[] dims, params long[] values)
    {
        var tensor = new TensorProto { DataType = (int)DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        return tensor;
    }

    private static TensorProto Scalar(float value) => FloatTensor(Array.Empty<long>(), value);

    public static TensorProto FloatTensor(long[] dims, params float[] values)
    {
        var tensor = new TensorProto { DataType = (int)DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.FloatData.AddRange(values);
        return tensor;
    }

    public static float[] Values(Random random, int count, float scale) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();

    /// <summary>The model with every byte of its raw initializer data kept but the model parsed and changed by <paramref name="change"/>.</summary>
    public static byte[] Changed(byte[] bytes, Action<ModelProto> change)
    {
        var model = ModelProto.Parser.ParseFrom(bytes);
        change(model);
        return model.ToByteArray();
    }
}
