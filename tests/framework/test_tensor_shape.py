import pytest

from distflow.framework.tensor_shape import Dimension, TensorShape


@pytest.mark.parametrize("dims, text", [
    ([4], "(4,)"), ([None], "(?,)"), (None, "<unknown>"), ([None, 3], "(?, 3)"), ([], "()"),
    ([2, 3, 4], "(2, 3, 4)"),
])
def test_prints_as_tensorflow_1(dims, text):
    assert str(TensorShape(dims)) == text


def test_repr_is_tf1s_in_graphs_and_tf2s_in_eager_code():
    from distflow.framework import context
    with context.graph_mode():
        assert repr(TensorShape([2, None])) == "TensorShape([Dimension(2), Dimension(None)])"
    assert repr(TensorShape([2, None])) == "TensorShape([2, None])"
    assert repr(TensorShape(None)) == "TensorShape(None)"
    assert repr(Dimension(None)) == "Dimension(None)" and str(Dimension(None)) == "?"


def test_compatibility_and_merge():
    assert TensorShape([None, 3]).is_compatible_with([5, 3])
    assert not TensorShape([None, 3]).is_compatible_with([5, 4])
    assert not TensorShape([3]).is_compatible_with([3, 1])
    assert TensorShape(None).is_compatible_with([1, 2, 3])
    assert TensorShape([None, 3]).merge_with([5, None]).as_list() == [5, 3]
    with pytest.raises(ValueError):
        TensorShape([2]).merge_with([3])


def test_as_list_num_elements_and_unknown_rank_errors():
    assert TensorShape([2, None]).as_list() == [2, None]
    assert TensorShape([2, 3]).num_elements() == 6
    assert TensorShape([2, None]).num_elements() is None
    with pytest.raises(ValueError, match="as_list\\(\\) is not defined on an unknown TensorShape."):
        TensorShape(None).as_list()
    with pytest.raises(ValueError):
        len(TensorShape(None))
    assert TensorShape([1, 2]) == TensorShape([1, 2]) and TensorShape([1]) != TensorShape([2])
