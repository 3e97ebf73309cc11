import XCTest
import SAM2

/// Parity of PositionEmbeddingRandom and PromptEncoder with the official sam2 1.1.0 modules at the reduced size of
/// Scripts/fixtures/make_decoder_fixtures.py (hidden 32, image 256, embedding 16×16).
/// Tolerances: positional encodings 2e-5 (sin/cos of arguments up to ~40 rad, float32), sparse embeddings 2e-5,
/// dense mask embeddings 1e-4 (three convolutions and two LayerNorms).
final class PromptEncoderTests: XCTestCase {
    static let weightsPath = fixturesDir.appendingPathComponent("decoder/weights.safetensors").path

    func makeEncoder() throws -> PromptEncoder {
        try PromptEncoder(Weights(Checkpoint.open(Self.weightsPath)).scoped("sam_prompt_encoder"), embedDim: 32,
                          imageEmbeddingSize: (16, 16), inputImageSize: (256, 256))
    }

    func testPositionEmbeddingRandomGridAndCoords() throws {
        let pe = try makeEncoder().peLayer
        XCTAssertEqual(pe.numPosFeats, 16)
        // A non-square grid and a non-square image catch swapped x/y.
        assertClose(pe(size: (5, 7)), try fixture("decoder/pe_grid_5x7.npy"), atol: 2e-5, "grid 5×7")
        let coords = try fixture("decoder/pe_coords_in.npy")
        assertClose(pe.forwardWithCoords(coords, imageSize: (100, 200)), try fixture("decoder/pe_coords_out.npy"),
                    atol: 2e-5, "forward_with_coords")
    }

    func testDensePE() throws {
        assertClose(try makeEncoder().getDensePE(), try fixture("decoder/dense_pe.npy"), atol: 2e-5, "get_dense_pe")
    }

    /// Every official prompt combination: padding point when there is no box, labels −1/0/1/2/3, labels outside
    /// that range (bare PE), boxes, points + boxes, masks, points + masks, nothing.
    func testPromptCases() throws {
        let encoder = try makeEncoder()
        let noMask = try Weights(Checkpoint.open(Self.weightsPath))("sam_prompt_encoder.no_mask_embed.weight")
        let cases: [(String, points: Bool, boxes: Bool, masks: Bool)] = [
            ("points", true, false, false), ("box_as_points", true, false, false), ("odd_labels", true, false, false),
            ("boxes", false, true, false), ("points_boxes", true, true, false), ("masks", false, false, true),
            ("points_masks", true, false, true), ("empty", false, false, false),
        ]
        for (name, hasPoints, hasBoxes, hasMasks) in cases {
            let points = hasPoints ? (coords: try fixture("decoder/\(name)_coords.npy"),
                                      labels: try fixture("decoder/\(name)_labels.npy")) : nil
            let boxes = hasBoxes ? try fixture("decoder/\(name)_boxes.npy") : nil
            let masks = hasMasks ? try fixture("decoder/\(name)_masks.npy") : nil
            let (sparse, dense) = try encoder(points: points, boxes: boxes, masks: masks)
            assertClose(sparse, try fixture("decoder/\(name)_sparse.npy"), atol: 2e-5, "\(name) sparse")
            if hasMasks {
                assertClose(dense, try fixture("decoder/\(name)_dense.npy"), atol: 1e-4, "\(name) dense")
            } else {
                let bs = sparse.shape[0]
                XCTAssertEqual(dense.shape, [bs, 32, 16, 16], name)
                let expected = noMask.reshaped([1, 32, 1, 1]).expanded(to: [bs, 32, 16, 16])
                XCTAssertEqual(dense.data, expected.data, "\(name): no_mask_embed broadcast")
            }
        }
    }

    func testBadPromptsThrow() throws {
        let encoder = try makeEncoder()
        let coords = Tensor.zeros([2, 3, 2])
        XCTAssertThrowsError(try encoder(points: (Tensor.zeros([2, 3]), Tensor.zeros([2, 3])), boxes: nil, masks: nil)) {
            XCTAssertEqual($0 as? PromptEncoderError,
                           .shapeMismatch(argument: "point coords", expected: "[B, N, 2]", got: [2, 3]))
        }
        XCTAssertThrowsError(try encoder(points: (coords, Tensor.zeros([2, 2])), boxes: nil, masks: nil))
        XCTAssertThrowsError(try encoder(points: (coords, Tensor.zeros([2, 3])), boxes: Tensor.zeros([3, 4]), masks: nil))
        XCTAssertThrowsError(try encoder(points: nil, boxes: Tensor.zeros([2, 5]), masks: nil))
        XCTAssertThrowsError(try encoder(points: nil, boxes: nil, masks: Tensor.zeros([1, 1, 32, 32]))) {
            XCTAssertTrue(String(describing: $0).contains("[B, 1, 64, 64]"), String(describing: $0))
        }
        // Non-finite labels are no label at all (bare PE), never a trap.
        let odd = Tensor(shape: [1, 2], data: [.nan, 1e30])
        let (sparse, _) = try encoder(points: (Tensor.zeros([1, 2, 2]), odd), boxes: nil, masks: nil)
        XCTAssertEqual(sparse.shape, [1, 3, 32])
    }
}
