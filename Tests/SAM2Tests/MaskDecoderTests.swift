import XCTest
import SAM2

/// Parity of Attention, TwoWayTransformer and MaskDecoder with the official sam2 1.1.0 modules at the reduced size of
/// Scripts/fixtures/make_decoder_fixtures.py (hidden 32, 8 heads, transformer MLP 64, IoU head 32, 64×64 low-res
/// masks). Inputs are the fixture image embedding / high-res features and this package's PromptEncoder outputs
/// (checked separately in PromptEncoderTests). Tolerance 1e-4 absolute on everything (values are O(1)).
final class MaskDecoderTests: XCTestCase {
    static let checkpointPath = fixturesDir.appendingPathComponent("decoder/weights.safetensors").path

    static func weights() throws -> Weights { Weights(try Checkpoint.open(checkpointPath)) }

    /// The reduced config: the released flags (high-res features, sigmoid IoU, object-score MLP, multimask
    /// pointer token, dynamic fallback) at hidden 32.
    static var sam2Config: MaskDecoderConfig {
        var c = MaskDecoderConfig(transformerDim: 32)
        c.transformerMLPDim = 64
        c.iouHeadHiddenDim = 32
        return c
    }

    static func decoder(_ name: String) throws -> MaskDecoder {
        var c = sam2Config
        switch name {
        case "sam_mask_decoder":
            return try MaskDecoder(weights().scoped(name), config: c)
        case "linear_obj_mask_decoder":
            c.useHighResFeatures = false; c.iouPredictionUseSigmoid = false; c.predObjScoresMLP = false
            c.useMultimaskTokenForObjPtr = false
            return try MaskDecoder(weights().scoped(name), config: c)
        default:  // "plain": SAM-1-like, read from the linear_obj weights (a superset of its own)
            c.useHighResFeatures = false; c.iouPredictionUseSigmoid = false; c.predObjScores = false
            c.useMultimaskTokenForObjPtr = false; c.dynamicMultimaskViaStability = false
            return try MaskDecoder(weights().scoped("linear_obj_mask_decoder"), config: c)
        }
    }

    static func encoder() throws -> PromptEncoder {
        try PromptEncoder(weights().scoped("sam_prompt_encoder"), embedDim: 32, imageEmbeddingSize: (16, 16),
                          inputImageSize: (256, 256))
    }

    func testAttentionWithDownsampleAndKVDim() throws {
        let w = Weights(try Checkpoint.open(fixturesDir.appendingPathComponent("decoder/attention.safetensors").path))
        let attn = try Attention(w.scoped("attn"), embeddingDim: 24, numHeads: 4, downsampleRate: 2, kvInDim: 12)
        XCTAssertEqual(attn.internalDim, 12)
        let out = attn(q: try fixture("decoder/attn_q.npy"), k: try fixture("decoder/attn_k.npy"),
                       v: try fixture("decoder/attn_v.npy"))
        assertClose(out, try fixture("decoder/attn_out.npy"), atol: 1e-5, "Attention")
    }

    func testProjectHighResFeatures() throws {
        let x = try fixture("decoder/conv_s_in.npy")
        let hr = try XCTUnwrap(try Self.decoder("sam_mask_decoder").projectHighResFeatures(x, x))
        assertClose(hr[0], try fixture("decoder/conv_s0_out.npy"), atol: 1e-5, "conv_s0")
        assertClose(hr[1], try fixture("decoder/conv_s1_out.npy"), atol: 1e-5, "conv_s1")
        XCTAssertNil(try Self.decoder("plain").projectHighResFeatures(x, x))
        XCTAssertThrowsError(try Self.decoder("sam_mask_decoder").projectHighResFeatures(x, Tensor.zeros([1, 8, 4, 4])))
    }

    struct Case {
        var name: String
        var decoder: String
        var points: (coords: Tensor, labels: Tensor)?
        var boxes: Tensor?
        var masks: Tensor?
        var multimask: Bool
        var repeatImage: Bool
        var batchImage = false
    }

    static func cases() throws -> [Case] {
        let click = (coords: Tensor(shape: [1, 1, 2], data: [100, 150]), labels: Tensor(shape: [1, 1], data: [1]))
        let clicks = (coords: Tensor(shape: [1, 2, 2], data: [100, 150, 30, 60]), labels: Tensor(shape: [1, 2], data: [1, 0]))
        let boxes = try fixture("decoder/boxes_boxes.npy")
        let pointsMask = (coords: try fixture("decoder/points_masks_coords.npy"),
                          labels: try fixture("decoder/points_masks_labels.npy"))
        let mask = try fixture("decoder/points_masks_masks.npy")
        return [
            Case(name: "click_multi", decoder: "sam_mask_decoder", points: click, multimask: true, repeatImage: false),
            Case(name: "clicks_single", decoder: "sam_mask_decoder", points: clicks, multimask: false, repeatImage: false),
            Case(name: "boxes_repeat_multi", decoder: "sam_mask_decoder", boxes: boxes, multimask: true, repeatImage: true),
            Case(name: "boxes_repeat_single", decoder: "sam_mask_decoder", boxes: boxes, multimask: false, repeatImage: true),
            Case(name: "points_mask_batch", decoder: "plain", points: pointsMask, masks: mask, multimask: false,
                 repeatImage: false, batchImage: true),
            Case(name: "plain_multi", decoder: "plain", points: clicks, multimask: true, repeatImage: false),
            Case(name: "linear_obj_single", decoder: "linear_obj_mask_decoder", points: clicks,
                 boxes: boxes.slice(axis: 0, start: 0, end: 1), multimask: false, repeatImage: false),
        ]
    }

    /// Forward outputs (selected masks, IoU, pointer tokens, object scores) of every case: one click multimask,
    /// two clicks single mask with the dynamic fallback, batched boxes on one image (repeat_image, 1-batch
    /// high-res features), a batch of images with masks (no repeat, no object head), a Linear object head.
    func testDecoderCases() throws {
        let encoder = try Self.encoder()
        let imageEmbed = try fixture("decoder/image_embed.npy")
        let highRes = [try fixture("decoder/feat_s0.npy"), try fixture("decoder/feat_s1.npy")]
        let imagePE = encoder.getDensePE()
        for c in try Self.cases() {
            let decoder: any MaskDecoding = try Self.decoder(c.decoder)
            let (sparse, dense) = try encoder(points: c.points, boxes: c.boxes, masks: c.masks)
            let b = sparse.shape[0]
            let image = c.batchImage
                ? Tensor.concat((0..<b).map { imageEmbed * Float($0 + 1) }, axis: 0) : imageEmbed
            let out = try decoder(imageEmbeddings: image, imagePE: imagePE, sparsePromptEmbeddings: sparse,
                                  densePromptEmbeddings: dense, multimaskOutput: c.multimask, repeatImage: c.repeatImage,
                                  highResFeatures: highRes)
            assertClose(out.masks, try fixture("decoder/\(c.name)_masks.npy"), atol: 1e-4, "\(c.name) masks")
            assertClose(out.iouPred, try fixture("decoder/\(c.name)_iou.npy"), atol: 1e-4, "\(c.name) iou")
            assertClose(out.samTokensOut, try fixture("decoder/\(c.name)_tokens.npy"), atol: 1e-4, "\(c.name) tokens")
            assertClose(out.objectScoreLogits, try fixture("decoder/\(c.name)_obj.npy"), atol: 1e-4, "\(c.name) obj")
        }
    }

    /// The raw per-token outputs and the two-way transformer alone, for one case.
    func testPredictMasksAndTransformer() throws {
        let encoder = try Self.encoder()
        let decoder = try Self.decoder("sam_mask_decoder")
        let click = (coords: Tensor(shape: [1, 1, 2], data: [100, 150]), labels: Tensor(shape: [1, 1], data: [1]))
        let (sparse, dense) = try encoder(points: click, boxes: nil, masks: nil)
        let imageEmbed = try fixture("decoder/image_embed.npy")
        let all = try decoder.predictMasks(imageEmbeddings: imageEmbed, imagePE: encoder.getDensePE(),
                                           sparsePromptEmbeddings: sparse, densePromptEmbeddings: dense,
                                           repeatImage: false,
                                           highResFeatures: [try fixture("decoder/feat_s0.npy"), try fixture("decoder/feat_s1.npy")])
        assertClose(all.masks, try fixture("decoder/click_multi_all_masks.npy"), atol: 1e-4, "all masks")
        assertClose(all.iouPred, try fixture("decoder/click_multi_all_iou.npy"), atol: 1e-4, "all iou")
        assertClose(all.samTokensOut, try fixture("decoder/click_multi_all_tokens.npy"), atol: 1e-4, "all tokens")

        let tokens = Tensor.concat([decoder.objScoreToken!, decoder.iouToken, decoder.maskTokens], axis: 0)
        let (hs, keys) = decoder.transformer(imageEmbedding: imageEmbed + dense, imagePE: encoder.getDensePE(),
                                             pointEmbedding: Tensor.concat([tokens.unsqueezed(axis: 0), sparse], axis: 1))
        assertClose(hs, try fixture("decoder/click_multi_hs.npy"), atol: 1e-4, "transformer queries")
        assertClose(keys, try fixture("decoder/click_multi_keys.npy"), atol: 1e-4, "transformer keys")
    }

    /// `_get_stability_scores` / `_dynamic_multimask_via_stability` on a constructed batch: stable, unstable,
    /// empty union (score 1), exactly at the 0.98 threshold (49/50, kept), just below (48/50) with tied best IoUs,
    /// logits exactly at ±0.05. Compared exactly: the selection is discrete.
    func testDynamicMultimaskViaStability() throws {
        let decoder = try Self.decoder("sam_mask_decoder")
        let logits = try fixture("decoder/stability_logits.npy")
        let iou = try fixture("decoder/stability_iou.npy")
        let scores = decoder.getStabilityScores(logits)
        assertClose(scores, try fixture("decoder/stability_scores.npy"), atol: 0, "stability scores")
        XCTAssertEqual(scores.slice(axis: 1, start: 0, end: 1).data, [1, scores[1, 0], 1, Float(49) / 50, Float(48) / 50])
        let (masks, bestIou) = decoder.dynamicMultimaskViaStability(allMaskLogits: logits, allIouScores: iou)
        assertClose(masks, try fixture("decoder/stability_out_logits.npy"), atol: 0, "selected masks")
        assertClose(bestIou, try fixture("decoder/stability_out_iou.npy"), atol: 0, "selected IoU")
    }

    func testBadInputsThrow() throws {
        let decoder = try Self.decoder("sam_mask_decoder")
        let image = Tensor.zeros([1, 32, 16, 16]), pe = Tensor.zeros([1, 32, 16, 16])
        let sparse = Tensor.zeros([2, 3, 32]), dense = Tensor.zeros([2, 32, 16, 16])
        let hr = [Tensor.zeros([1, 4, 64, 64]), Tensor.zeros([1, 8, 32, 32])]
        func run(image: Tensor = image, sparse: Tensor = sparse, dense: Tensor = dense, repeatImage: Bool = true,
                 highRes: [Tensor]? = hr) throws -> MaskDecoderOutput {
            try decoder(imageEmbeddings: image, imagePE: pe, sparsePromptEmbeddings: sparse, densePromptEmbeddings: dense,
                        multimaskOutput: true, repeatImage: repeatImage, highResFeatures: highRes)
        }
        XCTAssertEqual(try run().masks.shape, [2, 3, 64, 64])
        XCTAssertThrowsError(try run(sparse: Tensor.zeros([2, 3, 16])))
        XCTAssertThrowsError(try run(repeatImage: false))  // one image for two prompt sets needs repeatImage
        XCTAssertThrowsError(try run(dense: Tensor.zeros([3, 32, 16, 16])))
        XCTAssertThrowsError(try run(highRes: nil)) {
            XCTAssertTrue(String(describing: $0).contains("high-res"), String(describing: $0))
        }
        XCTAssertThrowsError(try run(highRes: [hr[1], hr[0]]))
    }
}
