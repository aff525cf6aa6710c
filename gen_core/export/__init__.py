"""What leaves the engine for other runtimes: a run's decoder as ONNX, for the visitor's browser."""

from gen_core.export.onnx_decoder import (MAX_DECODER_BYTES, ONNX_FILE, DecoderExportError, OnnxDecoder,
                                          decoder_for_run, export_decoder, weights_digest)

__all__ = ["MAX_DECODER_BYTES", "ONNX_FILE", "DecoderExportError", "OnnxDecoder", "decoder_for_run",
           "export_decoder", "weights_digest"]
