#!/usr/bin/env python3
"""PyTorch figures for the shapes of `fianet bench`, on the same machine, as one JSON object per line.

Usage: python3 bench/torch_reference.py [--device cuda|cpu]
Strict float32 (TF32 off for matmul and cuDNN), so the comparison with our f32 WGSL kernels is like for like.
Each figure is the median ms of timed repetitions after warm-up, synchronised around every repetition,
as bench/engine.ts's timeIt does. Not used by CI or tests: it only gives the reference numbers for notes.
"""
import argparse, json, statistics, time
import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
dev = ap.parse_args().device
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True
torch.manual_seed(0)


def sync():
    if dev == 'cuda':
        torch.cuda.synchronize()


def time_it(fn, reps=10, warm=3):
    for _ in range(warm):
        fn()
    sync()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def emit(name, ms, **extra):
    print(json.dumps({'bench': name, 'device': f'torch-{dev}', 'ms': round(ms, 4), **extra}), flush=True)


def r(*shape, grad=False):
    return (torch.rand(*shape, device=dev) * 2 - 1).requires_grad_(grad)


for name, b, m, k, n in [('matmul_1024', 1, 1024, 1024, 1024), ('matmul_2048', 1, 2048, 2048, 2048),
                         ('bmm_qk', 64, 144, 32, 144), ('bmm_pv', 64, 144, 144, 32)]:
    a, w = (r(m, k), r(k, n)) if b == 1 else (r(b, m, k), r(b, k, n))
    ms = time_it(lambda: a @ w)
    emit(name, ms, gflops=round(2 * b * m * n * k / ms / 1e6, 1))

x = r(64, 144, 144)
ms = time_it(lambda: torch.softmax(x, -1))
emit('softmax_64x144x144', ms, gbps=round(2 * 4 * x.numel() / ms / 1e6, 1))

x, w = r(1, 64, 128, 128, grad=True), r(64, 64, 3, 3, grad=True)
g = torch.ones(1, 64, 128, 128, device=dev)
fwd = time_it(lambda: F.conv2d(x, w, padding=1))
fb = time_it(lambda: F.conv2d(x, w, padding=1).backward(g))
emit('conv3x3_64_128', fwd, gflops=round(2 * 64 * 64 * 9 * 128 * 128 / fwd / 1e6, 1), fwd_bwd_ms=round(fb, 4))

x, w, bb = r(9216, 128, grad=True), r(128, grad=True), r(128, grad=True)
g = r(9216, 128)
ms = time_it(lambda: F.layer_norm(x, (128,), w, bb), 20)
fb = time_it(lambda: F.layer_norm(x, (128,), w, bb).backward(g))
emit('layernorm_9216x128', ms, gbps=round(2 * 4 * 9216 * 128 / ms / 1e6, 1), fwd_bwd_ms=round(fb, 4))

x, g = r(2, 2, 120, 120, grad=True), r(2, 2, 480, 480)
ms = time_it(lambda: F.interpolate(x.detach(), size=(480, 480), mode='bilinear', align_corners=True))
fb = time_it(lambda: F.interpolate(x, size=(480, 480), mode='bilinear', align_corners=True).backward(g))
emit('bilinear_up4', ms, fwd_bwd_ms=round(fb, 4))


def sgd_step(name, model, x, batch):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    y = torch.arange(batch, device=dev) % 10

    def step():
        F.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad()
    emit(name, time_it(step))


sgd_step('train_step_mlp', torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                                               torch.nn.ReLU(), torch.nn.Linear(1024, 10)).to(dev), r(128, 784), 128)
sgd_step('train_step_convnet', torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                                                   torch.nn.Conv2d(16, 32, 3, padding=1, stride=2), torch.nn.ReLU(),
                                                   torch.nn.Flatten(), torch.nn.Linear(32768, 10)).to(dev), r(8, 3, 64, 64), 8)
