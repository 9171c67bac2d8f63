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
    window: int | None = None  # sliding window in tokens, for `window_layers` of the layers
    window_layers: int = 0

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

    def attention_scores(self, n: int) -> float:
        """Causal attention scores of an n-token prompt over all layers, ×2 (n² per full layer; a windowed layer
        scores each token against at most `window` earlier ones: Σ min(i, W) ≈ nW − W²/2)."""
        full = (self.layers - self.window_layers) * n ** 2
        windowed = self.window_layers * (2 * n * self.window - self.window ** 2 if self.window and n > self.window
                                         else n ** 2)
        return full + windowed

    def attended_tokens(self, context: int) -> float:
        """Keys one decode token attends to, summed over the layers."""
        window = min(context, self.window) if self.window else context
        return (self.layers - self.window_layers) * context + self.window_layers * window

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
    ampere: bool = False  # vLLM keeps the small batch default on A100s


@dataclass
class Interconnect:
    """What a model-parallel group's collectives run over: its scale-up domain, else the scale-out NICs."""

    domain: int = 8  # accelerators in one scale-up domain
    peer_gbps: float | None = None  # per-direction bandwidth between two devices inside the domain
    peer_to_peer: bool = True  # False: staged through host memory (MIG, time-sliced vGPU, virtualized PCIe)
    scale_out_gbps: float | None = None  # NIC bandwidth per accelerator, after fabric oversubscription


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
    memory_utilization: float = 0.92  # vLLM's gpu_memory_utilization default (vllm/config/cache.py)
    activation_reserve_gb: float | None = None
    max_batch: int | None = None  # None: vLLM's max_num_seqs default for the device
    interconnect: Interconnect = field(default_factory=Interconnect)
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

    # --- tensor-parallel all-reduces ---------------------------------------------------------------------------
    def crosses_scale_up(self) -> bool:
        return self.tp > self.interconnect.domain

    def models_collectives(self) -> bool:
        """The all-reduce volume needs the activation width; without it the rules leave collectives out."""
        return bool(self.model.hidden or self.model.attention_width())

    def collective_ms_per_step(self) -> float:
        """2 all-reduces per layer, each paying a latency: 20 µs over NVLink-class P2P, 40 µs staged, 60 µs across nodes."""
        if self.tp == 1 or not self.models_collectives():
            return 0.0
        latency_us = 60 if self.crosses_scale_up() else (20 if self.interconnect.peer_to_peer else 40)
        return 2 * self.model.layers * latency_us / 1000

    def collective_ms_per_token(self) -> float:
        if self.tp == 1 or not self.models_collectives():
            return 0.0
        link = self.interconnect
        if not (self.crosses_scale_up() and link.scale_out_gbps):
            return all_reduce_gb(self.model, self.tp, 1) / link.peer_gbps * 1000 if link.peer_gbps else 0.0
        # Hierarchical: reduce inside each of N domains (g ranks each) over the peer links, exchange between
        # domains over the g ranks' NICs together.
        domains = math.ceil(self.tp / link.domain)
        ranks = self.tp / domains
        inside = all_reduce_gb(self.model, ranks, 1) / link.peer_gbps * 1000 if link.peer_gbps and ranks > 1 else 0.0
        across = all_reduce_gb(self.model, domains, 1) / (ranks * link.scale_out_gbps) * 1000
        return inside + across

    # --- prefill ----------------------------------------------------------------------------------------------
    def prefill_tflop(self, n: int) -> float:
        m = self.model
        return 2 * (m.active_b or m.params_b) * n / 1000 + 2 * m.attention_scores(n) / 1e6 * m.attention_width() / 1e6

    def prefill_ms(self, n: int) -> float:
        compute = self.prefill_tflop(n) / (self.tp * self.device.tflops * self.prefill_efficiency) * 1000
        stream = self.weights_per_device_gb() / self.device.bandwidth_gbps * 1000
        return max(compute, stream) + self.collective_ms_per_step() + n * self.collective_ms_per_token()

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
            weights = self.weights_per_token_gb()
        else:
            n = min(max(math.ceil(batch), 1), 1023)
            read = m.experts * (1 - (1 - m.experts_per_token / m.experts) ** n)
            weights = m.shared_gb() / self.tp + read * m.expert_gb() / self.ep_degree()
        return weights / self.achievable_bw() * 1000 + self.collective_ms_per_step()

    def kv_ms_per_sequence(self) -> float:
        return self.context() * self.kv_read_per_token() / (self.achievable_bw() * 1e6)

    def ms_per_sequence(self) -> float:
        """What one more sequence adds to a step: its KV reads and its share of the all-reduces."""
        return self.kv_ms_per_sequence() + self.collective_ms_per_token()

    def compute_ms_per_sequence(self) -> float:
        m = self.model
        gflop = 2 * (m.active_b or m.params_b) + 4 * m.attended_tokens(self.context()) * m.attention_width() / 1e9
        return gflop / (self.tp * self.device.tflops * self.prefill_efficiency)

    def batch1_step_ms(self) -> float:
        read = self.weights_per_token_gb() + self.context() * self.kv_read_per_token() / 1e9
        return read / self.achievable_bw() * 1000 + self.collective_ms_per_step() + self.collective_ms_per_token()

    # --- demand -------------------------------------------------------------------------------------------------
    def replica_rate(self) -> float:
        return self.arrival_rps / self.replicas

    def prefill_share(self) -> float:
        return self.replica_rate() * self.prefill_ms(self.prompt_p50) / 1000 if self.role == "colocated" else 0.0

    def design_batch(self) -> float | None:
        x = self.replica_rate() * self.output_p50
        free = 1000 * (1 - self.prefill_share())
        if free - x * self.ms_per_sequence() <= 0 or free - x * self.compute_ms_per_sequence() <= 0:
            return None
        first = x * self.fixed_ms() / (free - x * self.ms_per_sequence())
        fixed = self.fixed_ms(first)
        return x * fixed / (free - x * self.ms_per_sequence())

    def predicted_tpot_ms(self) -> float | None:
        batch = self.design_batch()
        if batch is None:
            return None
        first = self.replica_rate() * self.output_p50 * self.fixed_ms() / (
            1000 * (1 - self.prefill_share()) - self.replica_rate() * self.output_p50 * self.ms_per_sequence())
        fixed = self.fixed_ms(first)
        step = max(fixed + batch * self.ms_per_sequence(), batch * self.compute_ms_per_sequence())
        return step / (1 - self.prefill_share())

    def batch_limit(self) -> int:
        """vLLM's max_num_seqs default (EngineArgs.get_batch_defaults): 1024 from 70 GiB unless an A100, else 256."""
        if self.max_batch is not None:
            return self.max_batch
        return 1024 if self.device.memory_gb >= 70 * 2**30 / 1e9 and not self.device.ampere else 256

    def capacity_batch(self) -> int:
        return min(self.batch_limit(), self.kv_sequences(50))

    def replica_capacity_rps(self) -> float:
        """Highest rate per replica that keeps TPOT within target and the batch within the KV cache.

        At rate λ a replica holds B = λ × n × TPOT ÷ 1000 sequences (Little's law), and a colocated replica's
        prefill takes λ × P of each second, stretching every step by 1 ÷ (1 − λP ÷ 1000)."""
        if self.role == "prefill":
            return 0.5 * 1000 / self.prefill_ms(self.prompt_p50)
        n, cap = self.output_p50, self.capacity_batch()
        fixed, s, c = self.fixed_ms(cap), self.ms_per_sequence(), self.compute_ms_per_sequence()
        prefill = self.prefill_ms(self.prompt_p50) if self.role == "colocated" else 0.0
        full_step = max(fixed + cap * s, cap * c)
        at_capacity = 1 / (prefill / 1000 + n * full_step / (1000 * cap)) if cap > 0 else 0.0
        if self.tpot_target_ms is None:
            return at_capacity
        t = self.tpot_target_ms
        memory = 1000 * (t - fixed) / (t * (n * s + prefill)) if t > fixed else 0.0
        compute = 1000 / (n * c + prefill)
        return min(at_capacity, memory, compute)

    def limit_batch(self) -> int:
        if self.tpot_target_ms is None:
            return self.capacity_batch()
        return min(self.capacity_batch(), math.floor(self.replica_capacity_rps() * self.output_p50 * self.tpot_target_ms / 1000))

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
