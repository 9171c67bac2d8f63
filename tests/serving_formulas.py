"""The serving model's formulas written again in plain Python, from their documented statement (the rules'
sai:formula), to check the rules' SPARQL against. Floating point throughout; the tests compare with a tolerance.

Nothing here reads the reasoner's derived facts: inputs are the description's figures and the catalog's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5, "nvfp4": 0.5625, "mxfp4": 0.53125}


@dataclass
class Model:
    params_b: float
    layers: int
    kv_heads: int | None
    head_dim: int | None
    weight_dtype: str
    kv_dtype: str
    active_b: float | None = None
    hidden: int | None = None
    heads: int | None = None
    experts: int | None = None
    experts_per_token: int | None = None
    kv_latent: int | None = None

    def kv_bytes_per_token(self) -> float:
        if self.kv_latent:
            return self.layers * self.kv_latent * BYTES[self.kv_dtype]
        return 2 * self.layers * self.kv_heads * self.head_dim * BYTES[self.kv_dtype]

    def weight_gb(self) -> float:
        return self.params_b * BYTES[self.weight_dtype]

    def active_gb(self) -> float:
        return (self.active_b or self.params_b) * BYTES[self.weight_dtype]

    def moe(self) -> bool:
        return bool(self.experts and self.experts_per_token and self.active_b and self.experts > self.experts_per_token)

    def expert_gb(self) -> float:
        return (self.params_b - self.active_b) / (self.experts - self.experts_per_token) * BYTES[self.weight_dtype]

    def shared_gb(self) -> float:
        return self.active_gb() - self.experts_per_token * self.expert_gb()

    def attention_width(self) -> float:
        if self.heads and self.head_dim:
            return self.heads * self.head_dim
        return self.hidden or 0


@dataclass
class Device:
    """One device (accelerator, MIG slice or time-share) as a model shard sees it."""

    memory_gb: float
    bandwidth_gbps: float
    tflops: float  # dense, at the weight format, times the compute share


@dataclass
class Pool:
    model: Model
    device: Device
    role: str = "colocated"
    tp: int = 1
    pp: int = 1
    ep: int | None = None
    replicas: int = 1
    prefill_efficiency: float = 0.5
    decode_efficiency: float = 0.8
    memory_utilization: float = 0.9
    activation_reserve_gb: float | None = None
    max_batch: int = 256
    prompt_p50: int = 1
    prompt_p99: int = 1
    output_p50: int = 1
    output_p99: int = 1
    arrival_rps: float = 0.0
    tpot_target_ms: float | None = None
    extra: dict = field(default_factory=dict)

    # --- what a device holds ------------------------------------------------------------------------------
    def ep_degree(self) -> int:
        return self.ep or self.tp

    def weights_per_device_gb(self) -> float:
        m = self.model
        if m.moe():
            return (m.shared_gb() / self.tp + m.experts * m.expert_gb() / self.ep_degree()) / self.pp
        return m.weight_gb() / (self.tp * self.pp)

    def weights_per_token_gb(self) -> float:
        m = self.model
        if m.moe():
            return m.shared_gb() / self.tp + m.experts_per_token * m.expert_gb() / self.ep_degree()
        return m.active_gb() / self.tp

    def kv_shards(self) -> int:
        return 1 if self.model.kv_latent else min(self.tp, self.model.kv_heads)

    def kv_per_token_per_device(self) -> float:
        return self.model.kv_bytes_per_token() / (self.kv_shards() * self.pp)

    def kv_read_per_token(self) -> float:
        return self.model.kv_bytes_per_token() / self.kv_shards()

    def kv_per_p99_prompt_gb(self) -> float:
        return self.kv_per_token_per_device() * self.prompt_p99 / 1e9

    def reserve_gb(self) -> float:
        if self.activation_reserve_gb is not None:
            return self.activation_reserve_gb
        return 1 + 0.04 * self.device.memory_gb

    def kv_capacity_gb(self) -> float:
        return self.memory_utilization * self.device.memory_gb - self.weights_per_device_gb() - self.reserve_gb()

    def kv_capacity_tokens(self) -> int:
        free = self.kv_capacity_gb()
        return math.floor(free * 1e9 / self.kv_per_token_per_device()) if free > 0 else 0

    def kv_sequences(self, percentile: int) -> int:
        length = (self.prompt_p50 + self.output_p50) if percentile == 50 else (self.prompt_p99 + self.output_p99)
        return math.floor(self.kv_capacity_tokens() / length)

    # --- prefill ----------------------------------------------------------------------------------------------
    def prefill_tflop(self, n: int) -> float:
        m = self.model
        return 2 * (m.active_b or m.params_b) * n / 1000 + 2 * m.layers * (n / 1000) ** 2 * m.attention_width() / 1e6

    def prefill_ms(self, n: int) -> float:
        compute = self.prefill_tflop(n) / (self.tp * self.device.tflops * self.prefill_efficiency) * 1000
        stream = self.weights_per_device_gb() / self.device.bandwidth_gbps * 1000
        return max(compute, stream)

    def prefill_floor_ms(self, n: int) -> float:
        return self.prefill_tflop(n) / (self.tp * self.device.tflops) * 1000

    # --- decode -----------------------------------------------------------------------------------------------
    def decode_floor_ms(self) -> float:
        return self.weights_per_token_gb() / self.device.bandwidth_gbps * 1000

    def context(self) -> int:
        return self.prompt_p50 + self.output_p50 // 2

    def achievable_bw(self) -> float:
        return self.device.bandwidth_gbps * self.decode_efficiency

    def fixed_ms(self, batch: float | None = None) -> float:
        """Weight-reading part of a step; for MoE at `batch` the experts that batch reads (uniform routing)."""
        m = self.model
        if batch is None or not m.moe():
            return self.weights_per_token_gb() / self.achievable_bw() * 1000
        n = min(max(math.ceil(batch), 1), 1023)
        read = m.experts * (1 - (1 - m.experts_per_token / m.experts) ** n)
        return (m.shared_gb() / self.tp + read * m.expert_gb() / self.ep_degree()) / self.achievable_bw() * 1000

    def kv_ms_per_sequence(self) -> float:
        return self.context() * self.kv_read_per_token() / (self.achievable_bw() * 1e6)

    def compute_ms_per_sequence(self) -> float:
        m = self.model
        gflop = 2 * (m.active_b or m.params_b) + 4 * m.layers * self.context() * m.attention_width() / 1e9
        return gflop / (self.tp * self.device.tflops * self.prefill_efficiency)

    def batch1_step_ms(self) -> float:
        return (self.weights_per_token_gb() + self.context() * self.kv_read_per_token() / 1e9) / self.achievable_bw() * 1000

    # --- demand -------------------------------------------------------------------------------------------------
    def replica_rate(self) -> float:
        return self.arrival_rps / self.replicas

    def prefill_share(self) -> float:
        return self.replica_rate() * self.prefill_ms(self.prompt_p50) / 1000 if self.role == "colocated" else 0.0

    def design_batch(self) -> float | None:
        x = self.replica_rate() * self.output_p50
        free = 1000 * (1 - self.prefill_share())
        if free - x * self.kv_ms_per_sequence() <= 0 or free - x * self.compute_ms_per_sequence() <= 0:
            return None
        first = x * self.fixed_ms() / (free - x * self.kv_ms_per_sequence())
        fixed = self.fixed_ms(first)
        return x * fixed / (free - x * self.kv_ms_per_sequence())

    def predicted_tpot_ms(self) -> float | None:
        batch = self.design_batch()
        if batch is None:
            return None
        first = self.replica_rate() * self.output_p50 * self.fixed_ms() / (
            1000 * (1 - self.prefill_share()) - self.replica_rate() * self.output_p50 * self.kv_ms_per_sequence())
        fixed = self.fixed_ms(first)
        step = max(fixed + batch * self.kv_ms_per_sequence(), batch * self.compute_ms_per_sequence())
        return step / (1 - self.prefill_share())

    def capacity_batch(self) -> int:
        return min(self.max_batch, self.kv_sequences(50))

    def limit_batch(self) -> int:
        fixed = self.fixed_ms(self.capacity_batch())
        if self.tpot_target_ms is None:
            return self.capacity_batch()
        memory = math.floor((self.tpot_target_ms - fixed) / self.kv_ms_per_sequence()) if self.tpot_target_ms > fixed else 0
        compute = math.floor(self.tpot_target_ms / self.compute_ms_per_sequence())
        return min(self.capacity_batch(), memory, compute)

    def replica_capacity_rps(self) -> float:
        if self.role == "prefill":
            return 0.5 * 1000 / self.prefill_ms(self.prompt_p50)
        batch = self.limit_batch()
        if batch <= 0:
            return 0.0
        fixed = self.fixed_ms(self.capacity_batch())
        step = max(fixed + batch * self.kv_ms_per_sequence(), batch * self.compute_ms_per_sequence())
        if self.role == "colocated":
            return 1 / (self.prefill_ms(self.prompt_p50) / 1000 + self.output_p50 * step / (1000 * batch))
        return batch * 1000 / (self.output_p50 * step)

    def headroom(self) -> float:
        return self.replicas * self.replica_capacity_rps() / self.arrival_rps

    def replicas_needed(self) -> int:
        return math.ceil(self.arrival_rps / self.replica_capacity_rps())


def kv_transfer_ms(model: Model, prompt_tokens: int, bottleneck_gbps: float) -> float:
    return model.kv_bytes_per_token() * prompt_tokens / (bottleneck_gbps * 1e6)


def all_reduce_gb(model: Model, tp: int, tokens: float) -> float:
    """Two ring all-reduces of [tokens × hidden] BF16 per layer, 2(TP−1)/TP of it per rank (NCCL bus bandwidth)."""
    hidden = model.hidden or model.attention_width()
    return 2 * model.layers * 2 * (tp - 1) / tp * tokens * hidden * 2 / 1e9
