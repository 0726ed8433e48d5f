"""The fused Triton SKA kernels against ska_torch, on the CPU through Triton's interpreter.

Triton decides when it is imported whether kernels are compiled or interpreted, so the kernels
run in a worker process started with ``TRITON_INTERPRET=1``: this process (and the compiled
kernels other tests use on CUDA) stays as it is. triton is pinned in requirements.txt: a set-up
without it fails here.
"""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch

import lsnet_dense.ops.ska_triton as ska_triton_module
from lsnet_dense.ops import ska, ska_torch


class Interpreted:
    """``interpreted.NAME(*args)`` runs ``lsnet_dense.ops.ska_triton.NAME`` in the worker."""

    def __init__(self, executor):
        self.executor = executor

    def __getattr__(self, name):
        # Functions are pickled by reference: the worker imports its own, interpreted module.
        function = getattr(ska_triton_module, name)
        return lambda *args: self.run(function, *args)

    def run(self, function, *args):
        """``function(*args)`` in the worker; ``function`` must be importable there."""
        return self.executor.submit(function, *args).result()


@pytest.fixture(scope='module')
def interpreted():
    context = multiprocessing.get_context('spawn')
    with pytest.MonkeyPatch.context() as patch:
        # The worker reads it when it starts, on the first call.
        patch.setenv('TRITON_INTERPRET', '1')
        executor = ProcessPoolExecutor(max_workers=1, mp_context=context)
        executor.submit(ska_triton_module.ska_forward, torch.ones(1, 1, 1, 1),
                        torch.ones(1, 1, 9, 1, 1)).result()
    with executor:
        yield Interpreted(executor)


def forward_backward(x, w, grad, function=None, interpreted=None):
    """``(out, grad_x, grad_w)`` of ska_torch through autograd, or of the Triton kernels."""
    if interpreted is not None:
        return (interpreted.ska_forward(x, w), *interpreted.ska_backward(x, w, grad))
    x = x.detach().requires_grad_()
    w = w.detach().requires_grad_()
    out = function(x, w)
    return (out, *torch.autograd.grad(out, (x, w), grad))


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('batch,channels,groups,size,kernel', [
    (2, 16, 2, (7, 9), 3),     # tiles cross image rows, padding on all four sides
    (1, 24, 8, (5, 4), 3),     # R = 3 channels per group: a masked, padded tile row
    (1, 12, 4, (6, 5), 5),     # K = 5
    (3, 8, 8, (1, 1), 3),      # one pixel: every neighbour is padding
    (1, 64, 8, (20, 13), 3),   # LSNet's R = 8, more pixels than one tile holds
])
def test_forward_and_gradients_equal_ska_torch(interpreted, dtype, batch, channels, groups, size,
                                               kernel):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, *size, generator=gen, dtype=dtype)
    w = torch.randn(batch, groups, kernel * kernel, *size, generator=gen, dtype=dtype)
    grad = torch.randn(batch, channels, *size, generator=gen, dtype=dtype)
    tolerance = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else {}
    got = forward_backward(x, w, grad, interpreted=interpreted)
    expected = forward_backward(x, w, grad, function=ska_torch)
    for name, a, b in zip(('output', 'grad x', 'grad weights'), got, expected):
        assert a.dtype == dtype
        torch.testing.assert_close(a, b, **tolerance, msg=lambda m: f'{name}: {m}')


def test_groups_are_interleaved_over_channels(interpreted):
    x = torch.ones(1, 4, 3, 3)
    w = torch.zeros(1, 2, 9, 3, 3)
    w[:, 1, 4] = 1  # group 1, centre tap
    out = interpreted.ska_triton(x, w)
    assert out[0, [1, 3]].eq(1).all() and out[0, [0, 2]].eq(0).all()


@pytest.mark.parametrize('need_grad_x,need_grad_w', [(True, False), (False, True)])
def test_only_the_requested_gradient_is_computed(interpreted, need_grad_x, need_grad_w):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 16, 5, 6, generator=gen, dtype=torch.float64)
    w = torch.randn(2, 2, 9, 5, 6, generator=gen, dtype=torch.float64)
    grad = torch.randn(2, 16, 5, 6, generator=gen, dtype=torch.float64)
    grad_x, grad_w = interpreted.ska_backward(x, w, grad, need_grad_x, need_grad_w)
    _, expected_x, expected_w = forward_backward(x, w, grad, function=ska_torch)
    assert (grad_x is None) != need_grad_x and (grad_w is None) != need_grad_w
    for got, expected in ((grad_x, expected_x), (grad_w, expected_w)):
        if got is not None:
            torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_non_contiguous_and_mixed_dtype_inputs(interpreted):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 5, 8, 16, generator=gen, dtype=torch.float64).transpose(1, 3)  # (2,16,8,5)
    w = torch.randn(2, 2, 9, 8, 5, generator=gen)
    out = interpreted.ska_triton(x, w)
    # float32 filters with float64 features: computed in float64, as torch's promotion does.
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, ska_torch(x, w.double()), rtol=1e-12, atol=1e-12)


def test_empty_batch(interpreted):
    out = interpreted.ska_triton(torch.zeros(0, 8, 4, 4), torch.zeros(0, 1, 9, 4, 4))
    assert out.shape == (0, 8, 4, 4)


@pytest.mark.parametrize('x,w,error,match', [
    (torch.zeros(1, 8, 4, 4, dtype=torch.int32), torch.zeros(1, 1, 9, 4, 4, dtype=torch.int32),
     TypeError, 'supports'),
    (torch.zeros(1, 8, 4, 4), torch.zeros(1, 3, 9, 4, 4), ValueError, 'cannot share'),
    (torch.zeros(1, 8, 4, 4), torch.zeros(1, 1, 8, 4, 4), ValueError, 'odd K'),
])
def test_bad_inputs_raise(interpreted, x, w, error, match):
    with pytest.raises(error, match=match):
        interpreted.ska_triton(x, w)


def test_cpu_tensors_dispatch_to_ska_torch(monkeypatch):
    def fail(*args):
        raise AssertionError('ska_triton was called for CPU tensors')

    monkeypatch.setattr(ska_triton_module, 'ska_triton', fail)
    x, w = torch.randn(1, 8, 5, 5), torch.randn(1, 1, 9, 5, 5)
    torch.testing.assert_close(ska(x, w), ska_torch(x, w), rtol=0, atol=0)


def operator_check(x, w):
    """torch.library's own checks of the operator: schema, autograd registration, fake tensors.

    (Its AOT-dispatch check traces into the kernels, which only a compiled Triton can.)
    """
    return torch.library.opcheck(ska_triton_module.ska_triton_op, (x, w),
                                 test_utils=('test_schema', 'test_autograd_registration',
                                             'test_faketensor'))


def test_registered_as_a_torch_library_operator(interpreted):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 16, 5, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(1, 2, 9, 5, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    assert set(interpreted.run(operator_check, x, w).values()) == {'SUCCESS'}


def compiled_forward_backward(inputs):
    """``torch.compile(ska_triton, fullgraph=True, dynamic=True)`` over ``[(x, w, grad)]``: the
    op names in the captured graphs, the number of graphs, and each ``(out, grad_x, grad_w)``.

    The backend runs the captured graph as it is, since only a compiled Triton can trace
    into the kernels; ``fullgraph`` makes any graph break an error.
    """
    graphs = []

    def recording_backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    compiled = torch.compile(ska_triton_module.ska_triton, backend=recording_backend,
                             fullgraph=True, dynamic=True)
    results = []
    for x, w, grad in inputs:
        x, w = x.detach().requires_grad_(), w.detach().requires_grad_()
        out = compiled(x, w)
        results.append((out.detach(), *torch.autograd.grad(out, (x, w), grad)))
    ops = sorted({str(node.target) for graph in graphs for node in graph.graph.nodes
                  if node.op == 'call_function'})
    return ops, len(graphs), results


def test_compiles_into_one_graph_for_all_sizes(interpreted):
    gen = torch.Generator().manual_seed(4)
    inputs = [(torch.randn(b, 16, h, w, generator=gen, dtype=torch.float64),
               torch.randn(b, 2, 9, h, w, generator=gen, dtype=torch.float64),
               torch.randn(b, 16, h, w, generator=gen, dtype=torch.float64))
              # Sizes that equal no other size of the call: torch gives equal sizes of the first
              # call one symbol (duck shaping), which a second call could then not follow.
              for b, h, w in ((3, 7, 11), (4, 12, 5))]
    ops, num_graphs, results = interpreted.run(compiled_forward_backward, inputs)
    assert 'lsnet_dense.ska_triton.default' in ops
    assert num_graphs == 1
    for (x, w, grad), got in zip(inputs, results):
        expected = forward_backward(x, w, grad, function=ska_torch)
        for name, a, b in zip(('output', 'grad x', 'grad weights'), got, expected):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=lambda m: f'{name}: {m}')
