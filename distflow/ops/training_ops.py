"""Fused optimizer updates: one op per variable and step, in place inside a Session plan.

Each follows TF1's kernel of the same name (tensorflow/core/kernels/training_ops.cc) and takes its
inputs in TF's order: the variable, then its slots (the state the update also changes, all named
in `ref_input`), then the hyperparameters (scalars of the variable's dtype) and the gradient.

Every formula is written once, as an in-place update (`inplace`, what a Session plan runs on the
variables' own buffers). The eager form (`forward`) runs the same function on copies, because an
eager read of a variable shares its array: a tensor read before the step must keep its value.
"""
import numpy as np

from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import same_as_input


def _update_infer(n_state, grad_index):
    """Shape rule: the variable, its `n_state - 1` slots and the gradient share one shape and
    dtype; the other inputs are hyperparameters, scalars of that dtype."""
    def infer(*inputs, **attrs):
        var, grad_at = inputs[0], grad_index % len(inputs)
        for i, t in enumerate(inputs):
            if t.dtype != var.dtype:
                raise TypeError("Input %s has type %s that does not match type %s of the variable"
                                % (t.name, t.dtype.name, var.dtype.name))
            if i < n_state or i == grad_at:
                if not var.shape.is_compatible_with(t.shape):
                    raise ValueError("var and %s do not have the same shape: %s %s"
                                     % (t.name, var.shape, t.shape))
            elif t.shape.rank not in (None, 0):
                raise ValueError("%s is not a scalar: %s" % (t.name, t.shape))
        return same_as_input(var)
    return infer


def _on_copies(inplace, n_state, grad_index=-1):
    """The functional (eager) form of an in-place update. Eager calls skip the shape rule, so the
    gradient's shape is checked here: NumPy would broadcast a wrong one silently."""
    def forward(xp, *arrays, **attrs):
        if arrays[grad_index].shape != arrays[0].shape:
            raise ValueError("var and grad do not have the same shape: %s %s"
                             % (arrays[0].shape, arrays[grad_index].shape))
        # xp.array, not .copy(): a NumPy scalar would copy to an immutable scalar
        state = [xp.array(a, copy=True) for a in arrays[:n_state]]
        inplace(xp, *state, *arrays[n_state:], **attrs)
        return state[0] if n_state == 1 else tuple(state)
    return forward


def _fused(name, inplace, n_state, grad_index=-1):
    return op_def(name, infer=_update_infer(n_state, grad_index),
                  forward=_on_copies(inplace, n_state, grad_index),
                  inplace=inplace, ref_input=0 if n_state == 1 else tuple(range(n_state)),
                  aliases=True, grad=NOT_DIFFERENTIABLE, flat_grad=grad_index)


def _gradient_descent(xp, var, alpha, delta):
    var -= alpha * delta


ApplyGradientDescent = _fused("ApplyGradientDescent", _gradient_descent, 1)


def _momentum(xp, var, accum, lr, grad, momentum, use_nesterov=False):
    accum *= momentum
    accum += grad
    if use_nesterov:
        # Nesterov looks one step ahead: the gradient now plus the momentum it is about to add
        var -= grad * lr + accum * (momentum * lr)
    else:
        var -= lr * accum


ApplyMomentum = _fused("ApplyMomentum", _momentum, 2, grad_index=3)


def _host_scalars(*values):
    """0-d NumPy arrays as NumPy scalars, of the same dtype: arithmetic on a scalar costs a tenth
    of a ufunc call on a 0-d array. Device arrays stay where they are (reading them would wait
    for the GPU)."""
    return [v[()] if type(v) is np.ndarray else v for v in values]


def _moments(xp, m, v, grad, one_minus_beta1, one_minus_beta2):
    """Adam's moment updates in place, m = beta1 * m + (1 - beta1) * grad and likewise v with
    grad^2, through one temporary (each step's arithmetic as written in TF's kernel); returns it."""
    tmp = xp.subtract(grad, m, out=xp.empty_like(m))  # an array even when m is 0-d
    tmp *= one_minus_beta1
    m += tmp
    xp.multiply(grad, grad, out=tmp)
    tmp -= v
    tmp *= one_minus_beta2
    v += tmp
    return tmp


def _adam_step(xp, var, m, v, step_size, epsilon, tmp):
    """var -= step_size * m / (sqrt(v) + epsilon), with `tmp` as scratch."""
    denom = xp.sqrt(v)
    denom += epsilon
    xp.multiply(m, step_size, out=tmp)
    tmp /= denom
    var -= tmp


def _adam(xp, var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad):
    # The bias corrections fold into the step size, so epsilon is added to sqrt(v) itself:
    # Kingma & Ba's "epsilon hat" (the form just before their section 2.1), not Algorithm 1's.
    beta1_power, beta2_power, lr, beta1, beta2, epsilon = _host_scalars(
        beta1_power, beta2_power, lr, beta1, beta2, epsilon)
    lr_t = lr * xp.sqrt(1 - beta2_power) / (1 - beta1_power)
    tmp = _moments(xp, m, v, grad, 1 - beta1, 1 - beta2)
    _adam_step(xp, var, m, v, lr_t, epsilon, tmp)


ApplyAdam = _fused("ApplyAdam", _adam, 3)


def _rmsprop(xp, var, ms, mom, lr, rho, momentum, epsilon, grad):
    ms += (grad * grad - ms) * (1 - rho)   # ms = rho * ms + (1 - rho) * grad^2
    mom *= momentum
    mom += lr * grad / xp.sqrt(ms + epsilon)  # TF1 puts epsilon inside the square root
    var -= mom


ApplyRMSProp = _fused("ApplyRMSProp", _rmsprop, 3)


def _centered_rmsprop(xp, var, mg, ms, mom, lr, rho, momentum, epsilon, grad):
    # Centered: divides by an estimate of the gradient's variance, E[g^2] - E[g]^2.
    mg += (grad - mg) * (1 - rho)
    ms += (grad * grad - ms) * (1 - rho)
    mom *= momentum
    mom += lr * grad / xp.sqrt(ms - mg * mg + epsilon)
    var -= mom


ApplyCenteredRMSProp = _fused("ApplyCenteredRMSProp", _centered_rmsprop, 4)


def _adagrad(xp, var, accum, lr, grad):
    accum += grad * grad
    var -= lr * grad / xp.sqrt(accum)


ApplyAdagrad = _fused("ApplyAdagrad", _adagrad, 2)


def _adagrad_v2(xp, var, accum, lr, epsilon, grad):
    # TF2's Adagrad: epsilon outside the square root keeps the first steps bounded
    accum += grad * grad
    var -= lr * grad / (xp.sqrt(accum) + epsilon)


ApplyAdagradV2 = _fused("ApplyAdagradV2", _adagrad_v2, 2)


def _adadelta(xp, var, accum, accum_update, lr, rho, epsilon, grad):
    # TF1's kernel: the step is sqrt(accum_update + eps) / sqrt(accum + eps) * grad, taken before
    # accum_update learns of it (Zeiler's ADADELTA, scaled by lr)
    accum *= rho
    accum += (grad * grad) * (1 - rho)
    update = xp.sqrt(accum_update + epsilon) * (1 / xp.sqrt(accum + epsilon)) * grad
    var -= update * lr
    accum_update *= rho
    accum_update += (update * update) * (1 - rho)


ApplyAdadelta = _fused("ApplyAdadelta", _adadelta, 3)


def _proximal_gradient_descent(xp, var, alpha, l1, l2, delta):
    # a gradient step, then the proximal map of alpha * (l1 * |w| + l2 / 2 * w^2)
    # (no `if l1 > 0`: with l1 = 0 the shrink gives prox back exactly, and testing a device
    # value on the host would make every GPU step wait for the device)
    prox = var - alpha * delta
    prox = xp.sign(prox) * xp.maximum(xp.abs(prox) - alpha * l1, 0)
    var[...] = prox / (1 + alpha * l2)


ApplyProximalGradientDescent = _fused("ApplyProximalGradientDescent",
                                      _proximal_gradient_descent, 1)


def _ftrl(xp, var, accum, linear, grad, lr, l1, l2, lr_power):
    # McMahan et al.'s FTRL-Proximal, as TF1's ApplyFtrl kernel
    new_accum = accum + grad * grad
    # TF's kernel takes square roots for the usual lr_power of -0.5; tested on the host only
    # (reading a GPU value would make the step wait for the device: the power form serves there)
    if xp is np and lr_power == -0.5:
        linear += grad - (xp.sqrt(new_accum) - xp.sqrt(accum)) / lr * var
        quadratic = xp.sqrt(new_accum) / lr + 2 * l2
    else:
        linear += grad - (new_accum ** -lr_power - accum ** -lr_power) / lr * var
        quadratic = new_accum ** -lr_power / lr + 2 * l2
    pre_shrink = (xp.sign(linear) * l1 - linear) / quadratic
    var[...] = xp.where(xp.abs(linear) > l1, pre_shrink, 0)
    accum[...] = new_accum


ApplyFtrl = _fused("ApplyFtrl", _ftrl, 3, grad_index=3)


# -- Keras 3's updates (keras/src/optimizers/*.py), for df.optimizers ---------------------------
# Written in Keras's order of operations, so float32 results agree with Keras's to the last bit
# or nearly. `one_minus_*` inputs are 1 - rho (or 1 - beta) as Keras computes them: in Python's
# double precision for a Python number, then rounded to the variable's dtype.
def _keras_sgd_momentum(xp, var, m, lr, momentum, grad, nesterov=False):
    m *= momentum
    m -= grad * lr                       # m = momentum * m - lr * grad
    if nesterov:
        var += m * momentum - grad * lr
    else:
        var += m


KerasSGDMomentum = _fused("KerasSGDMomentum", _keras_sgd_momentum, 2)


def _keras_rmsprop(xp, var, velocity, mom, lr, rho, one_minus_rho, momentum, epsilon, grad):
    velocity *= rho
    velocity += one_minus_rho * (grad * grad)
    mom *= momentum                      # momentum 0: mom is the increment itself
    mom += (lr * grad) / xp.sqrt(velocity + epsilon)
    var -= mom


KerasRMSprop = _fused("KerasRMSprop", _keras_rmsprop, 3)


def _keras_centered_rmsprop(xp, var, avg_grad, velocity, mom, lr, rho, one_minus_rho, momentum,
                            epsilon, grad):
    velocity *= rho
    velocity += one_minus_rho * (grad * grad)
    avg_grad *= rho
    avg_grad += one_minus_rho * grad
    mom *= momentum
    mom += (lr * grad) / xp.sqrt(velocity - avg_grad * avg_grad + epsilon)
    var -= mom


KerasCenteredRMSprop = _fused("KerasCenteredRMSprop", _keras_centered_rmsprop, 4)


def _keras_adagrad(xp, var, accum, lr, epsilon, grad):
    accum += grad * grad
    var -= (lr * grad) / xp.sqrt(accum + epsilon)   # Keras 3: epsilon inside the root


KerasAdagrad = _fused("KerasAdagrad", _keras_adagrad, 2)


def _keras_adam(xp, var, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon, grad):
    # alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), computed by the caller
    alpha, one_minus_beta_1, one_minus_beta_2, epsilon = _host_scalars(
        alpha, one_minus_beta_1, one_minus_beta_2, epsilon)
    tmp = _moments(xp, m, v, grad, one_minus_beta_1, one_minus_beta_2)
    _adam_step(xp, var, m, v, alpha, epsilon, tmp)


KerasAdam = _fused("KerasAdam", _keras_adam, 3)


def _keras_amsgrad(xp, var, m, v, v_hat, alpha, one_minus_beta_1, one_minus_beta_2, epsilon,
                   grad):
    m += (grad - m) * one_minus_beta_1
    v += (grad * grad - v) * one_minus_beta_2
    xp.maximum(v_hat, v, out=v_hat)      # the largest v so far
    var -= (m * alpha) / (xp.sqrt(v_hat) + epsilon)


KerasAMSGrad = _fused("KerasAMSGrad", _keras_amsgrad, 4)


def _keras_nadam(xp, var, m, v, lr, one_minus_beta_1, one_minus_beta_2, u_t_1,
                 one_minus_u_product_t_1, one_minus_u_t, one_minus_u_product_t,
                 one_minus_beta_2_power, epsilon, grad):
    m += (grad - m) * one_minus_beta_1
    v += (grad * grad - v) * one_minus_beta_2
    m_hat = (u_t_1 * m) / one_minus_u_product_t_1 + (one_minus_u_t * grad) / one_minus_u_product_t
    v_hat = v / one_minus_beta_2_power
    var -= (m_hat * lr) / (xp.sqrt(v_hat) + epsilon)


KerasNadam = _fused("KerasNadam", _keras_nadam, 3)


def _keras_adadelta(xp, var, accum_grad, accum_delta, lr, rho, one_minus_rho, epsilon, grad):
    accum_grad *= rho
    accum_grad += one_minus_rho * (grad * grad)
    delta = -((xp.sqrt(accum_delta + epsilon) * grad) / xp.sqrt(accum_grad + epsilon))
    accum_delta *= rho
    accum_delta += one_minus_rho * (delta * delta)
    var += lr * delta


KerasAdadelta = _fused("KerasAdadelta", _keras_adadelta, 3)


def _weight_decay_infer(var, lr, decay):
    for t in (lr, decay):
        if t.dtype != var.dtype:
            raise TypeError("Input %s has type %s that does not match type %s of the variable"
                            % (t.name, t.dtype.name, var.dtype.name))
    return same_as_input(var)


def _weight_decay(xp, var, lr, decay):
    var -= var * decay * lr   # Keras's order: variable * wd * lr


# Decoupled weight decay (Loshchilov & Hutter, "AdamW"): var -= lr * decay * var, apart from the
# gradient, so that adaptive optimizers do not rescale it. Not a TF1 op; distflow's own.
ApplyWeightDecay = op_def("ApplyWeightDecay", infer=_weight_decay_infer,
                          forward=_on_copies(_weight_decay, 1, 0), inplace=_weight_decay,
                          ref_input=0, aliases=True, grad=NOT_DIFFERENTIABLE)
