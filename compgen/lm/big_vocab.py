"""Teacher-forced log-probabilities for large vocabularies without a [rows, vocab] float32 tensor.

Gemma 3's output layer has 262,144 rows: one 256-token slice of logits is 268 MB of float32,
and the log-softmax then streams it through memory four times (max, gather, exp, sum). Here
the output layer runs over column blocks of the vocabulary: each block's logits (rows x
``block``) stay in cache while a running max and a float64 running sum of exponentials are
updated (online log-sum-exp; blocked float32 sums added in float64), and the target's logit is picked from the block that holds it.
Scoring only measures (files never depend on it), so the result only needs to agree with
the plain path to float accuracy (tests: within 1e-6 nats).
"""

from __future__ import annotations

import numpy as np

from .log_softmax import row_sums

#: vocabularies at least this large take the blocked path in LMModel.windows_logprobs
BIG_VOCAB = 100_000
BLOCK = 16384


def blocked_target_logprobs(hidden, weight, targets, bf16: bool = False, block: int = BLOCK) -> np.ndarray:
    """log softmax(hidden @ weight.T)[row, targets[row]] as float64, one column block at a time.

    ``hidden`` [R, D] and ``weight`` [V, D]; with ``bf16`` both are multiplied in bfloat16
    with float32 accumulation, as autocast does (pass the weight already cast to save the
    cast per call); ``targets`` [R] int64."""
    import torch
    import torch.nn.functional as F

    rows, vocab = hidden.shape[0], weight.shape[0]
    if bf16:
        hidden = hidden.to(torch.bfloat16)
    top = torch.full((rows, 1), float("-inf"), dtype=torch.float64)
    total = torch.zeros(rows, dtype=torch.float64)
    picked = torch.zeros(rows, dtype=torch.float64)
    targets = torch.as_tensor(targets, dtype=torch.int64)
    for lo in range(0, vocab, block):
        w = weight[lo: lo + block]
        logits = F.linear(hidden, w.to(torch.bfloat16) if bf16 else w.to(hidden.dtype)).float()  # [R, block]
        inside = (targets >= lo) & (targets < lo + logits.shape[1])
        if inside.any():
            idx = torch.nonzero(inside)[:, 0]
            picked[idx] = logits[idx, targets[idx] - lo].double()
        m = logits.max(dim=1, keepdim=True).values.double()
        new_top = torch.maximum(top, m)
        total = total * torch.exp(top - new_top)[:, 0]
        # exp in float32 relative to the new running max, summed in float64
        total += row_sums(logits.sub_(new_top.float()).exp_())
        top = new_top
    return (picked - top[:, 0] - torch.log(total)).numpy()
