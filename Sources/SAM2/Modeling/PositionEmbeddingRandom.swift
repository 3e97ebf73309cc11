import Foundation

/// SAM's `PositionEmbeddingRandom`: random-Fourier positional encoding of points in [0, 1]²,
/// sin/cos of 2π·(2p − 1)·G with a fixed Gaussian matrix G [2, numPosFeats]; output width 2·numPosFeats.
public struct PositionEmbeddingRandom: Sendable {
    /// The `positional_encoding_gaussian_matrix` buffer [2, numPosFeats].
    public var positionalEncodingGaussianMatrix: Tensor

    /// Reads `<prefix>.positional_encoding_gaussian_matrix` [2, numPosFeats].
    public init(_ w: Weights, numPosFeats: Int) throws {
        positionalEncodingGaussianMatrix = try w("positional_encoding_gaussian_matrix", shape: [2, numPosFeats])
    }

    /// Wraps a given Gaussian matrix [2, numPosFeats].
    public init(positionalEncodingGaussianMatrix: Tensor) {
        precondition(positionalEncodingGaussianMatrix.rank == 2 && positionalEncodingGaussianMatrix.shape[0] == 2,
                     "PositionEmbeddingRandom: the Gaussian matrix must be [2, F], got \(positionalEncodingGaussianMatrix.shape)")
        self.positionalEncodingGaussianMatrix = positionalEncodingGaussianMatrix
    }

    /// Frequencies per axis (half the encoding width).
    public var numPosFeats: Int { positionalEncodingGaussianMatrix.shape[1] }

    /// `forward(size)`: the encoding of pixel centres ((x+0.5)/w, (y+0.5)/h) of an h×w grid, as [2F, h, w].
    public func callAsFunction(size: (height: Int, width: Int)) -> Tensor {
        let (h, w) = size
        let f = numPosFeats, hw = h * w
        return Tensor(shape: [2 * f, h, w]) { out in
            positionalEncodingGaussianMatrix.withUnsafeBufferPointer { g in
                // Channel-major output: each worker owns whole rows of the grid, so the strided writes never overlap.
                let o = out
                Parallel.forChunks(h, grain: max(1, 4096 / max(1, w * f))) { rows in
                    for y in rows {
                        let ny = Float(y) + 0.5
                        for x in 0..<w {
                            let nx = Float(x) + 0.5
                            Self.encode(x: nx / Float(w), y: ny / Float(h), g: g, f: f) { j, s, c in
                                o[j * hw + y * w + x] = s
                                o[(f + j) * hw + y * w + x] = c
                            }
                        }
                    }
                }
            }
        }
    }

    /// `forward_with_coords`: encodes pixel coordinates [B, N, 2] (x, y) of an image of `imageSize`
    /// (x divided by its width, y by its height) as [B, N, 2F].
    public func forwardWithCoords(_ coords: Tensor, imageSize: (height: Int, width: Int)) -> Tensor {
        precondition(coords.rank >= 1 && coords.shape.last == 2, "forwardWithCoords: coordinates must be [..., 2], got \(coords.shape)")
        let f = numPosFeats, points = coords.count / 2
        let sx = Float(imageSize.width), sy = Float(imageSize.height)
        return Tensor(shape: Array(coords.shape.dropLast()) + [2 * f]) { out in
            coords.withUnsafeBufferPointer { c in
                positionalEncodingGaussianMatrix.withUnsafeBufferPointer { g in
                    for p in 0..<points {
                        let base = p * 2 * f
                        Self.encode(x: c[2 * p] / sx, y: c[2 * p + 1] / sy, g: g, f: f) { j, s, cs in
                            out[base + j] = s
                            out[base + f + j] = cs
                        }
                    }
                }
            }
        }
    }

    /// `_pe_encoding` of one normalised point: calls `store(j, sin, cos)` for each frequency j.
    /// `g` is the row-major [2, f] matrix.
    @inline(__always)
    private static func encode(x: Float, y: Float, g: UnsafeBufferPointer<Float>, f: Int,
                               _ store: (Int, Float, Float) -> Void) {
        let twoPi = Float(2 * Double.pi)
        let cx = 2 * x - 1, cy = 2 * y - 1
        for j in 0..<f {
            let a = twoPi * (cx * g[j] + cy * g[f + j])
            store(j, sin(a), cos(a))
        }
    }
}
