"""Multi-task training of the news model: data loaders, de-duplication, split, sampler, trainer."""
