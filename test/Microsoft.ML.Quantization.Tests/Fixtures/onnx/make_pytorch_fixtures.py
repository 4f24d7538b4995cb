#!/usr/bin/python3
"""Writes the PyTorch-exported ONNX fixtures of OnnxPyTorchFixtureTests and their reference outputs.

Run with Debian 12's python3-torch (1.13) and python3-onnx (1.12):  /usr/bin/python3 make_pytorch_fixtures.py
Each <name>.onnx comes with <name>.json: the input shape, the inputs and the logits PyTorch computed for them.
CI does not run this script; it reads the committed files.
"""
import json
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2026)


class ConvNet(nn.Module):
    """Pixels in [0, 255]: x / 255, conv-BN-ReLU6, max pool, conv-BN-ReLU, average pool, x.view(N, -1), dropout, linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 12, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(12, eps=1e-3)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(12 * 4 * 4, 5)

    def forward(self, x):
        x = x / 255
        x = F.max_pool2d(F.relu6(self.bn1(self.conv1(x))), 2)
        x = F.avg_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(self.drop(x.view(x.size(0), -1)))


class Residual(nn.Module):
    """A residual block with LeakyReLU and PReLU, global average pooling, torch.flatten and a softmax head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 6, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(6)
        self.conv1 = nn.Conv2d(6, 6, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(6)
        self.prelu = nn.PReLU()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        x = F.leaky_relu(self.bn0(self.stem(x)), 0.1)
        y = F.relu(self.bn1(self.conv1(x)))
        x = self.prelu(self.bn2(self.conv2(y)) + x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return F.softmax(self.fc(x), dim=1)


class TextLstm(nn.Module):
    """Token ids: embedding, a batch-first LSTM, its last hidden state h[-1], then linear-ReLU-linear."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(50, 8)
        self.lstm = nn.LSTM(8, 10, batch_first=True)
        self.fc1 = nn.Linear(10, 6)
        self.fc2 = nn.Linear(6, 2)

    def forward(self, ids):
        _, (h, _) = self.lstm(self.embedding(ids))
        return self.fc2(F.relu(self.fc1(h[-1])))


def randomize_batchnorm(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def write(name, model, example, opset, integer=False, fold=True):
    model.eval()
    randomize_batchnorm(model)
    torch.onnx.export(model, example, f"{name}.onnx", opset_version=opset, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, do_constant_folding=fold)
    with torch.no_grad():
        output = model(example)
    with open(f"{name}.json", "w") as f:
        json.dump({"inputShape": list(example.shape[1:]), "tokens": integer, "inputs": example.flatten().tolist(),
                   "outputs": [round(v, 7) for v in output.flatten().tolist()]}, f)


# The exporter's default folds constants (and BatchNorm into the convolution); unfolded files keep Cast, Slice and BatchNormalization nodes.
write("pytorch-convnet-opset11", ConvNet(), torch.randint(0, 256, (6, 3, 16, 16)).float(), 11)
write("pytorch-convnet-opset13-unfolded", ConvNet(), torch.randint(0, 256, (6, 3, 16, 16)).float(), 13, fold=False)
write("pytorch-residual-opset17", Residual(), torch.rand(6, 1, 8, 8), 17)
write("pytorch-textlstm-opset14", TextLstm(), torch.randint(0, 50, (6, 9)), 14, integer=True)
write("pytorch-textlstm-opset11-unfolded", TextLstm(), torch.randint(0, 50, (6, 9)), 11, integer=True, fold=False)


class FashionCnn(nn.Module):
    """A small CNN trained here on Fashion-MNIST (pixels in [0, 1]), the README's "model you trained elsewhere"."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv4 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv5 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        x = F.max_pool2d(F.relu(self.conv4(x)), 2)
        x = F.relu(self.conv5(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def idx(path):
    import gzip
    import numpy as np
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape).copy())


def train_fashion(root="../../../../data/fashion-mnist"):
    images = idx(f"{root}/train-images-idx3-ubyte.gz")[:20000].float().unsqueeze(1) / 255
    labels = idx(f"{root}/train-labels-idx1-ubyte.gz")[:20000].long()
    model = FashionCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(3):
        for start in range(0, len(images), 64):
            optimizer.zero_grad()
            F.cross_entropy(model(images[start:start + 64]), labels[start:start + 64]).backward()
            optimizer.step()
    model.eval()
    test = idx(f"{root}/t10k-images-idx3-ubyte.gz").float().unsqueeze(1) / 255
    with torch.no_grad():
        accuracy = (model(test).argmax(1) == idx(f"{root}/t10k-labels-idx1-ubyte.gz").long()).float().mean().item()
    print(f"FashionCnn test accuracy {accuracy:.4f}")
    return model, test[:4]


# Needs the full data set (build/fetch-datasets.sh).
fashion, examples = train_fashion()
write("pytorch-fashion-cnn-opset17", fashion, examples, 17)
