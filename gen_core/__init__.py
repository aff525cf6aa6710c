"""gen_core: a small PyTorch engine for training and exploring image generative models.

Data (``gen_core.data``), model families (``gen_core.models``), the trainer and background jobs
(``gen_core.training``, ``gen_core.serve.jobs``), checkpoints and runs, latent-space tools
(``gen_core.latent``, ``gen_core.sampling``), metrics and the command line. No UI code lives here.
"""

__version__ = "0.1.0"
