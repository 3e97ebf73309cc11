import XCTest
import SAM2

/// The prompt encoder and mask decoder of the reduced official SAM 2.1 model (Fixtures/image_model, made by
/// Scripts/fixtures/make_image_model_fixtures.py: hidden 32 with the hard-coded two-way MLP 2048, 8 heads, IoU head
/// 256) on the photo's image features, for every prompt set on the photo: sparse/dense embeddings (2e-5 / 1e-4),
/// low-res mask logits (1e-4 absolute + 1e-5 relative: logits reach ~50), IoU, pointer tokens, object scores (1e-4).
final class MaskDecoderImageModelTests: XCTestCase {
    func testPromptSetsOnThePhoto() throws {
        let w = Weights(try Checkpoint.open(fixturesDir.appendingPathComponent("image_model/sam2.1-mini.pt").path))
        let encoder = try PromptEncoder(w.scoped("sam_prompt_encoder"), embedDim: 32, imageEmbeddingSize: (16, 16),
                                        inputImageSize: (256, 256))
        let decoder: any MaskDecoding = try MaskDecoder(w.scoped("sam_mask_decoder"),
                                                        config: MaskDecoderConfig(transformerDim: 32))
        assertClose(encoder.getDensePE(), try fixture("image_model/stages/image_pe.npy"), atol: 2e-5, "image PE")
        // conv_s1 of the decoder on FPN level 1 (level 0 is not stored) gives the predictor's feat_s1.
        let s1 = try XCTUnwrap(try MaskDecoder(w.scoped("sam_mask_decoder"), config: MaskDecoderConfig(transformerDim: 32))
            .projectHighResFeatures(Tensor.zeros([1, 32, 64, 64]), try fixture("image_model/stages/neck_fpn_1.npy")))
        assertClose(s1[1], try fixture("image_model/stages/high_res_feat_s1.npy"), atol: 1e-5, "conv_s1")
        let embed = try fixture("image_model/stages/image_embed.npy")
        let highRes = [try fixture("image_model/stages/high_res_feat_s0.npy"),
                       try fixture("image_model/stages/high_res_feat_s1.npy")]
        let data = try Data(contentsOf: fixturesDir.appendingPathComponent("image_model/prompts.json"))
        let sets = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        var checked = 0, fallbacks = 0
        for set in sets {
            let name = try XCTUnwrap(set["name"] as? String)
            // The batch-predictor and odd-image sets run on other images' features.
            if name.hasPrefix("predict_batch") || name.hasPrefix("odd_") { continue }
            let args = try XCTUnwrap(set["args"] as? [String: Any])
            let input = try XCTUnwrap(set["prompt_encoder_input"] as? [String: Any])
            var points: (coords: Tensor, labels: Tensor)?
            if let coords = input["point_coords"] as? [[[Double]]], let labels = input["point_labels"] as? [[Double]] {
                points = (Tensor(shape: [coords.count, coords[0].count, 2], data: coords.flatMap { $0.flatMap { $0.map(Float.init) } }),
                          Tensor(shape: [labels.count, labels[0].count], data: labels.flatMap { $0.map(Float.init) }))
            }
            var masks: Tensor?
            if let shape = input["mask_input"] as? [Int] {
                masks = try fixture("image_model/prompts/\(name)_mask_input.npy").reshaped(shape)
            }
            let (sparse, dense) = try encoder(points: points, boxes: nil, masks: masks)
            assertClose(sparse, try fixture("image_model/prompts/\(name)_sparse.npy"), atol: 2e-5, "\(name) sparse")
            if masks != nil {
                assertClose(dense, try fixture("image_model/prompts/\(name)_dense.npy"), atol: 1e-4, "\(name) dense")
            }
            let multimask = args["multimask_output"] as? Bool ?? true
            let out = try decoder(imageEmbeddings: embed, imagePE: encoder.getDensePE(), sparsePromptEmbeddings: sparse,
                                  densePromptEmbeddings: dense, multimaskOutput: multimask,
                                  repeatImage: sparse.shape[0] > 1, highResFeatures: highRes)
            let lowRes = try fixture("image_model/prompts/\(name)_low_res_masks.npy")
            assertClose(out.masks.clamp(min: -32, max: 32).reshaped(lowRes.shape), lowRes, atol: 1e-4, rtol: 1e-5,
                        "\(name) low-res masks")
            if set["clamp_changed_low_res"] as? Bool == true {
                assertClose(out.masks, try fixture("image_model/prompts/\(name)_decoder_masks.npy"), atol: 1e-4,
                            rtol: 1e-5, "\(name) unclamped masks")
            }
            let iou = try XCTUnwrap(set["iou_predictions"] as? [Any])
            let iouFlat = iou.flatMap { ($0 as? [Double]) ?? [$0 as? Double ?? .nan] }.map(Float.init)
            assertClose(out.iouPred.reshaped([-1]), Tensor(shape: [iouFlat.count], data: iouFlat), atol: 1e-4, "\(name) iou")
            assertClose(out.samTokensOut, try fixture("image_model/prompts/\(name)_sam_tokens_out.npy"), atol: 1e-4,
                        "\(name) tokens")
            let obj = try XCTUnwrap(set["object_score_logits"] as? [[Double]]).flatMap { $0.map(Float.init) }
            assertClose(out.objectScoreLogits, Tensor(shape: [obj.count, 1], data: obj), atol: 1e-4, "\(name) object score")
            if set["dynamic_fallback"] as? Bool == true { fallbacks += 1 }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 8)
        print("MaskDecoderImageModelTests: \(checked) prompt sets, \(fallbacks) with the dynamic multimask fallback")
    }
}
