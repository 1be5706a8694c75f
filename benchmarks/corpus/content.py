"""The text of the corpus documents, one structure for every typesetting of them.

A document is a list of nodes in reading order. ("part", level, number, title) opens a section:
level 0 a chapter (or, in the paper, a section), 1 a section, 2 a subsection; number "" is an
unnumbered heading. ("p", text) is a paragraph, ("table", caption, rows), ("figure", caption,
labels) a plot or diagram whose labels are drawn as text, ("eq", latex, plain) an equation,
("bib", entries) the bibliography. build.py writes LaTeX and HTML from it and records, per
section, the text it holds (truth.json), which the benchmark compares each chunk's label with.
"""

from __future__ import annotations

THESIS_TITLE = "Catching print defects early: G-code-guided segmentation of layer images"
THESIS = [
    ("part", 0, "", "Abstract"),
    ("p", "Fused filament printers fail silently: a clogged nozzle or a shifted layer is noticed only when the "
          "part is finished. This work watches every layer with a camera and compares the image with what the "
          "G-code says should be there. A segmentation network guided by a rendering of the toolpath marks "
          "defective pixels, and an alignment module corrects the small offsets between camera and rendering."),
    ("part", 0, "1", "Introduction"),
    ("p", "Additive manufacturing has moved from prototypes to end-use parts, and with it the cost of a failed "
          "print has grown. A print of twenty hours that fails in the fourth hour wastes the remaining sixteen "
          "unless someone notices. Operators rarely watch a machine for that long."),
    ("part", 1, "1.1", "Motivation"),
    ("p", "In a survey of the university workshop, 23 of 140 logged prints failed, and in 17 of those the failure "
          "was visible in the first five layers. An automatic check after each layer would have saved most of "
          "the material and machine time lost to them."),
    ("p", "Commercial printers increasingly ship with a camera, but the camera is used for time-lapse videos "
          "rather than for inspection. The hardware for monitoring is therefore already present on many machines."),
    ("part", 1, "1.2", "Objectives"),
    ("p", "The project set three objectives: detect under-extrusion and layer shifts within one layer of their "
          "occurrence, run on a single-board computer beside the printer, and require no labelled images from "
          "the user's own printer. The third objective ruled out purely supervised training on the target machine."),
    ("part", 1, "1.3", "Structure of the thesis"),
    ("p", "Chapter 2 reviews segmentation networks and spatial transformers. Chapter 3 describes the data, the "
          "rendering of the G-code and the network. Chapter 4 reports the experiments and Chapter 5 discusses "
          "the limitations of the approach."),
    ("part", 0, "2", "Background"),
    ("p", "This chapter introduces the printing process and the two families of networks that the method builds on."),
    ("part", 1, "2.1", "Fused filament fabrication"),
    ("p", "A fused filament printer pushes a thermoplastic strand through a heated nozzle and deposits it along a "
          "toolpath, one layer at a time. The toolpath is described by G-code, a list of moves with coordinates "
          "and extrusion amounts produced by a slicer."),
    ("p", "Typical defects are stringing, warping, under-extrusion and layer shifts. Under-extrusion leaves gaps "
          "between neighbouring lines, while a layer shift displaces all later layers by a constant offset."),
    ("part", 1, "2.2", "Semantic segmentation"),
    ("p", "Semantic segmentation assigns a class to every pixel of an image. For inspection the classes are "
          "background, correct material and defect."),
    ("part", 2, "2.2.1", "Fully convolutional networks"),
    ("p", "Fully convolutional networks replace the final dense layers of a classifier with convolutions, so that "
          "an image of any size yields a map of class scores. Skip connections from earlier layers recover the "
          "detail lost to pooling."),
    ("part", 2, "2.2.2", "U-Net"),
    ("p", "The U-Net adds a symmetric expanding path to the contracting one and concatenates features of equal "
          "resolution across the two. It was designed for biomedical images with few annotations and trains "
          "well from a few hundred examples."),
    ("figure", "The U-Net layout used in this work",
     ["input tile", "conv 3x3", "64", "128", "256", "512", "max pool 2x2", "up-conv 2x2", "copy and crop",
      "output map", "572 x 572", "388 x 388"]),
    ("part", 1, "2.3", "Spatial transformer networks"),
    ("p", "A spatial transformer predicts the parameters of a geometric transform from its input and resamples "
          "the input accordingly. Because the sampling is differentiable, the transform is learned from the "
          "task loss alone, without labels for the transform itself."),
    ("part", 0, "3", "Method"),
    ("p", "The method has three parts: a camera image of the layer, a rendering of the same layer from the G-code, "
          "and a network that takes both and predicts a defect mask."),
    ("part", 1, "3.1", "Data acquisition"),
    ("p", "A Raspberry Pi camera module 3 was mounted above the bed at a height of 31 cm and triggered by a G-code "
          "macro after each layer. In total 4,812 layer images were captured from 96 prints in PLA and PETG."),
    ("p", "Lighting turned out to matter more than resolution. A diffuse ring light removed the glare that made "
          "glossy PETG look like missing material."),
    ("part", 1, "3.2", "Rendering the G-code"),
    ("p", "Each layer's moves are drawn into an image of the camera's size with a line width equal to the "
          "extrusion width. The rendering uses the printer's bed coordinates, so it has to be aligned with the "
          "camera view before the two can be compared."),
    ("part", 1, "3.3", "Network architecture"),
    ("p", "The network is a U-Net with four input channels: the three colour channels of the camera image and the "
          "rendered toolpath. A spatial transformer in front of the U-Net warps the rendering onto the image."),
    ("p", "The encoder has four stages with 32, 64, 128 and 256 filters; the decoder mirrors it. With 7.8 million "
          "parameters the network runs at 9 frames per second on the single-board computer."),
    ("part", 1, "3.4", "Loss function"),
    ("p", "Defect pixels make up less than two percent of a typical layer image. With plain cross-entropy the "
          "network learned to predict background everywhere, so the loss combines cross-entropy with a dice term "
          "that weighs the rare defect class by its overlap rather than its pixel count."),
    ("eq", r"L = L_{CE} + \lambda \left(1 - \frac{2|P \cap G|}{|P| + |G|}\right)", "L = L_CE + lambda (1 - 2|P n G| / (|P| + |G|))"),
    ("p", "The weight lambda was set to 0.5 after a search over five values; larger weights made training unstable "
          "in the first epochs."),
    ("part", 1, "3.5", "Training schedule"),
    ("p", "Training ran for 60 epochs with AdamW at a learning rate of 3e-4 and a batch size of 16. The spatial "
          "transformer was frozen for the first ten epochs, which prevented it from collapsing to a degenerate "
          "transform while the segmentation head was still random."),
    ("part", 0, "4", "Results"),
    ("p", "All results are on a held-out set of 12 prints that the network never saw during training."),
    ("part", 1, "4.1", "Segmentation quality"),
    ("p", "The guided network reached a dice score of 0.71 on the defect class, against 0.58 for a U-Net that saw "
          "only the camera image. The gain came mostly from under-extrusion, which the rendering makes obvious."),
    ("table", "Dice on the held-out prints",
     [["Model", "Dice", "Precision", "Recall"], ["Image only", "0.58", "0.61", "0.55"],
      ["Guided", "0.71", "0.74", "0.69"], ["Guided, no STN", "0.63", "0.66", "0.60"]]),
    ("part", 1, "4.2", "Thresholding the output"),
    ("p", "The network's sigmoid output was thresholded before computing the mask. Raising the threshold from 0.5 "
          "to 0.7 removed most of the speckle along part edges and boosted the dice score by approximately 30% "
          "on the thin-walled prints."),
    ("part", 1, "4.3", "Ablation of the alignment module"),
    ("p", "Without the spatial transformer the dice score fell to 0.63, because a misalignment of two or three "
          "pixels makes every edge look like a defect. Training curves of both variants are shown below."),
    ("figure", "Validation dice per epoch with and without the alignment module",
     ["Dice", "Epoch", "0", "10", "20", "30", "40", "50", "60", "0.2", "0.4", "0.6", "0.8", "with STN", "without STN"]),
    ("part", 0, "5", "Discussion"),
    ("part", 1, "5.1", "Limitations"),
    ("p", "The method assumes that the camera does not move relative to the bed. On bed-slinger printers, where "
          "the bed moves along one axis, images had to be taken with the bed parked at the front, which added "
          "four seconds to every layer."),
    ("p", "Transparent and very dark filaments remain hard: with black PETG the recall dropped to 0.41."),
    ("part", 1, "5.2", "Future work"),
    ("p", "A natural next step is to close the loop and pause the printer automatically when the defect area of "
          "a layer exceeds a limit, and to test the approach on resin printers."),
    ("part", 0, "", "Bibliography"),
    ("bib", [
        "O. Ronneberger, P. Fischer and T. Brox. U-Net: Convolutional networks for biomedical image segmentation. "
        "In MICCAI, pages 234-241, 2015.",
        "J. Long, E. Shelhamer and T. Darrell. Fully convolutional networks for semantic segmentation. In CVPR, 2015.",
        "M. Jaderberg, K. Simonyan, A. Zisserman and K. Kavukcuoglu. Spatial transformer networks. In NeurIPS, 2015.",
        "Prusa Research. G-code reference. https://help.prusa3d.com/article/g-code [Accessed on: 9 October 2021].",
        "F. Milletari, N. Navab and S. Ahmadi. V-Net: Fully convolutional neural networks for volumetric medical "
        "image segmentation. In 3DV, 2016.",
    ]),
    ("part", 0, "A", "Hyper-parameters"),
    ("p", "The data augmentation applied random brightness changes of up to 20 percent and horizontal flips; "
          "rotations were left out because they would break the alignment with the rendering."),
]

# Questions written with the text above, before any retrieval was run on it: two wordings each,
# neither copying the answering sentence. (fact id, question, verbatim piece of the answer).
THESIS_QA = [
    ("survey", "How many of the workshop's logged prints failed?", "23 of 140 logged prints failed"),
    ("survey", "What share of failures could be seen early in the print?", "visible in the first five layers"),
    ("objectives", "What goals did the project set out to achieve?", "detect under-extrusion and layer shifts within one layer"),
    ("objectives", "Why could the model not be trained with labels from the target printer?", "require no labelled images"),
    ("shift", "What does a layer shift do to the rest of the print?", "displaces all later layers by a constant offset"),
    ("shift", "How does under-extrusion show up in the deposited lines?", "gaps between neighbouring lines"),
    ("unet", "What was the U-Net originally built for?", "designed for biomedical images with few annotations"),
    ("unet", "How does the U-Net join its two paths?", "concatenates features of equal resolution"),
    ("camera", "Where and how high was the camera mounted?", "at a height of 31 cm"),
    ("camera", "How large is the image data set that was collected?", "4,812 layer images were captured from 96 prints"),
    ("glare", "Why was a ring light used?", "A diffuse ring light removed the glare"),
    ("glare", "What made glossy filament look defective?", "glossy PETG look like missing material"),
    ("channels", "What inputs does the network take?", "four input channels"),
    ("channels", "How fast does the model run on the small computer?", "9 frames per second"),
    ("dice", "why use dice loss for imbalanced segmentation", "weighs the rare defect class by its overlap"),
    ("dice", "What happened when training with cross-entropy alone?", "learned to predict background everywhere"),
    ("lambda", "How was the weight of the dice term chosen?", "set to 0.5 after a search over five values"),
    ("lambda", "What went wrong with a large dice weight?", "made training unstable"),
    ("schedule", "Which optimiser and learning rate were used?", "AdamW at a learning rate of 3e-4"),
    ("schedule", "Why was the alignment module kept fixed at the start?", "frozen for the first ten epochs"),
    ("guided", "How much better is the guided network than the image-only one?", "0.71 on the defect class, against 0.58"),
    ("guided", "Which defect type benefited most from the toolpath rendering?", "mostly from under-extrusion"),
    ("threshold", "why was a threshold applied to the U-Net output and how much did it help",
     "boosted the dice score by approximately 30%"),
    ("threshold", "What removed the speckle along the edges of parts?", "Raising the threshold from 0.5"),
    ("ablation", "What happens to accuracy without the spatial transformer?", "the dice score fell to 0.63"),
    ("ablation", "Why does misalignment hurt the segmentation?", "makes every edge look like a defect"),
    ("bedslinger", "What problem did printers with a moving bed cause?", "bed parked at the front"),
    ("bedslinger", "How much time per layer did imaging cost on bed-slingers?", "added four seconds to every layer"),
    ("dark", "Which filaments are hardest for the method?", "Transparent and very dark filaments remain hard"),
    ("dark", "What recall was measured on black filament?", "recall dropped to 0.41"),
    ("augment", "Why were rotations not used as augmentation?", "rotations were left out"),
    ("augment", "How strong were the brightness changes in augmentation?", "brightness changes of up to 20 percent"),
]

PAPER_TITLE = "Registration-free defect segmentation for extrusion printers"
PAPER = [
    ("part", 0, "", "Abstract"),
    ("p", "We show that a segmentation network can learn to align a toolpath rendering with a camera image "
          "without any registration labels, and that doing so improves defect detection on real prints."),
    ("part", 0, "1", "Introduction"),
    ("p", "Inspection of printed layers has so far relied on careful calibration between camera and printer. "
          "Calibration drifts whenever the camera is bumped, which in a shared lab happens weekly."),
    ("p", "Our contribution is a training scheme in which the alignment is a by-product of the segmentation "
          "objective, so that recalibration is never needed."),
    ("part", 0, "2", "Related work"),
    ("p", "Earlier monitoring systems compared the silhouette of a layer with a slice of the model using classical "
          "image processing. They worked under laboratory lighting but failed with reflections on glossy material."),
    ("part", 0, "3", "Approach"),
    ("part", 1, "3.1", "Alignment by a spatial transformer"),
    ("p", "An affine spatial transformer warps the rendered toolpath before it is concatenated with the image. "
          "Its final layer is initialised to the identity transform so that training starts from no warp at all."),
    ("part", 1, "3.2", "Curriculum"),
    ("p", "During the first epochs the network sees renderings shifted by at most two pixels; the maximum shift "
          "then grows linearly to twelve pixels by epoch thirty."),
    ("figure", "Maximum shift during training",
     ["shift (px)", "epoch", "0", "10", "20", "30", "2", "4", "8", "12"]),
    ("part", 0, "4", "Experiments"),
    ("p", "We evaluate on 1,204 layer images from 31 prints, with defects annotated by two people; their "
          "agreement measured as dice was 0.83, an upper bound for any model."),
    ("table", "Results on the test prints", [["Method", "Dice", "Time (ms)"], ["Calibrated", "0.69", "41"],
                                             ["Ours", "0.70", "44"], ["No alignment", "0.52", "38"]]),
    ("p", "Our registration-free model matches the calibrated baseline within one point of dice while adding only "
          "three milliseconds per image."),
    ("part", 0, "5", "Conclusion"),
    ("p", "Learned alignment removes the calibration step from print monitoring at no loss of accuracy. The code "
          "and the annotated images are released with this paper."),
    ("part", 0, "", "References"),
    ("bib", [
        "M. Jaderberg, K. Simonyan, A. Zisserman and K. Kavukcuoglu. Spatial transformer networks. In NeurIPS, 2015.",
        "O. Ronneberger, P. Fischer and T. Brox. U-Net: Convolutional networks for biomedical image segmentation. "
        "In MICCAI, 2015.",
        "Y. Bengio, J. Louradour, R. Collobert and J. Weston. Curriculum learning. In ICML, 2009.",
    ]),
]
PAPER_QA = [
    ("calib", "Why is camera calibration a problem in practice?", "Calibration drifts whenever the camera is bumped"),
    ("calib", "How often does the camera get knocked in a shared lab?", "happens weekly"),
    ("classic", "Why did older image-processing monitors fail?", "failed with reflections on glossy material"),
    ("classic", "How did earlier monitoring systems work?", "compared the silhouette of a layer"),
    ("identity", "How is the transformer's last layer initialised?", "initialised to the identity transform"),
    ("identity", "Where does the warp start from at the beginning of training?", "starts from no warp at all"),
    ("curriculum", "How is the maximum shift scheduled during training?", "grows linearly to twelve pixels"),
    ("curriculum", "How large are the shifts in the first epochs?", "shifted by at most two pixels"),
    ("agreement", "How well did the two annotators agree?", "agreement measured as dice was 0.83"),
    ("agreement", "How many images and prints are in the test data?", "1,204 layer images from 31 prints"),
    ("cost", "How much slower is the registration-free model?", "adding only three milliseconds per image"),
    ("cost", "Does removing calibration cost accuracy?", "within one point of dice"),
]
