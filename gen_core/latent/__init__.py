"""Looking inside a model's latent space: encoding, PCA, interpolation, GAN inversion, pictures.

``codes``: encode, decode, reconstruct; ``inversion``: codes for given images (encoder or
optimisation); ``neighbours``: the k nearest training images in latent and in pixel space;
``paths``: lerp / slerp between codes; ``directions``: class-mean directions ("from 4 towards 9"),
latent arithmetic and orthonormal sets of directions; ``pca``: principal directions, the encoded test set's
spread and the 2-D latent map; ``pictures``: basis vectors, class means, manifold grids;
``posterior``: a VAE's encoder as a distribution (KL per dimension, draws, ellipses on the map);
``projections``: the codes in 2 or 3 coordinates by PCA, t-SNE or UMAP, subsampled when there are many;
``projector``: a folder (or zip) of codes, labels and thumbnails for TensorBoard's Embedding Projector;
``timeline``: the test codes a trainer keeps at grid epochs, drawn on the last epoch's plane on fixed axes.
"""

from gen_core.latent.codes import (decode_latents, decode_to_pil, encode_dataset, evaluating, per_image_mse,
                                   reconstructions)
from gen_core.latent.directions import (ClassMeans, arithmetic_images, class_mean_table, latent_arithmetic,
                                        orthonormal_directions)
from gen_core.latent.inversion import (FOUND_BY_ENCODER, FOUND_BY_OPTIMISATION, FoundLatents, find_latents,
                                       invert_generator, latents_for)
from gen_core.latent.neighbours import NEIGHBOUR_METRICS, Neighbours, k_nearest, latent_neighbours, pixel_neighbours
from gen_core.latent.paths import INTERPOLATION_METHODS, convex_combinations, interpolate, lerp, mix, slerp
from gen_core.latent.pca import (LatentMap, LatentPCA, LatentSummary, build_latent_map, latent_from_pca_coords,
                                 summarise_latents)
from gen_core.latent.pictures import (class_mean_path, class_means, decode_map_points, decoded_basis_vectors,
                                      decoded_class_means, manifold_coordinates, manifold_grid, manifold_images)
from gen_core.latent.posterior import (ONE_SIGMA_SHARE, Ellipse, Posterior, average_kl_per_dimension, has_posterior,
                                       image_posterior, mean_activity, posterior_codes, posterior_ellipse,
                                       project_to_map, unused_dimensions)
from gen_core.latent.projections import (MAX_NEIGHBOURS, MAX_PERPLEXITY, MAX_PROJECTION_POINTS, METHOD_LABELS,
                                          PROJECTION_METHODS, Projection, ProjectionSettings, project,
                                          subsample_indices)
from gen_core.latent.projector import PROJECTOR_FILES, ProjectorExport, projector_export
from gen_core.latent.timeline import TIMELINE_IMAGES, TimelineCodes, TimelineMap, timeline_codes, timeline_map

__all__ = [
    "FOUND_BY_ENCODER", "FOUND_BY_OPTIMISATION", "INTERPOLATION_METHODS", "FoundLatents", "LatentMap", "LatentPCA",
    "LatentSummary", "build_latent_map", "class_mean_path", "class_means", "convex_combinations",
    "decode_latents", "decode_map_points", "decode_to_pil", "decoded_basis_vectors", "decoded_class_means",
    "encode_dataset", "evaluating", "find_latents", "interpolate", "invert_generator", "latent_from_pca_coords",
    "latents_for", "lerp", "manifold_coordinates", "manifold_grid", "manifold_images", "mix", "per_image_mse",
    "reconstructions", "slerp", "summarise_latents",
    "PROJECTOR_FILES", "ProjectorExport", "projector_export",
    "ONE_SIGMA_SHARE", "Ellipse", "Posterior", "average_kl_per_dimension", "has_posterior", "image_posterior",
    "mean_activity", "posterior_codes", "posterior_ellipse", "project_to_map", "unused_dimensions",
    "ClassMeans", "arithmetic_images", "class_mean_table", "latent_arithmetic", "orthonormal_directions",
    "MAX_NEIGHBOURS", "MAX_PERPLEXITY", "MAX_PROJECTION_POINTS", "METHOD_LABELS", "PROJECTION_METHODS", "Projection",
    "ProjectionSettings", "project", "subsample_indices",
    "NEIGHBOUR_METRICS", "Neighbours", "k_nearest", "latent_neighbours", "pixel_neighbours",
    "TIMELINE_IMAGES", "TimelineCodes", "TimelineMap", "timeline_codes", "timeline_map",
]
