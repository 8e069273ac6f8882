"""keras.applications: Keras' ImageNet architectures with Keras' layer names,
weight order and published weight files.

Each family is a module with its model functions, `preprocess_input` and
`decode_predictions` (pykern.applications.vgg16, .vgg19, .resnet, .resnet50,
.resnet_v2, .densenet, .mobilenet, .mobilenet_v2, .mobilenet_v3, .inception_v3,
.xception, .efficientnet, .imagenet_utils); the model functions are also here.
Every model function takes Keras' arguments: include_top, weights (None,
'imagenet' or a file path), input_tensor, input_shape, pooling, classes,
classifier_activation, name.

weights='imagenet' reads Keras' own file (same name and hash) from
$PYKERN_HOME/models (default ~/.pykern/models), then ~/.keras/models (files Keras
already downloaded), else downloads it into the first folder; offline, the error
names the file, its URL and the folder to put it in.
"""
from pykern.applications import (densenet, imagenet_utils, resnet, resnet50, resnet_v2, vgg16,
                                 vgg19)
from pykern.applications._common import WeightsUnavailableError
from pykern.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from pykern.applications.resnet import ResNet50, ResNet101, ResNet152
from pykern.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from pykern.applications.vgg16 import VGG16
from pykern.applications.vgg19 import VGG19
from pykern.applications import (efficientnet, inception_v3, mobilenet, mobilenet_v2,
                                 mobilenet_v3, xception)
from pykern.applications.efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2,
                                              EfficientNetB3, EfficientNetB4, EfficientNetB5,
                                              EfficientNetB6, EfficientNetB7)
from pykern.applications.inception_v3 import InceptionV3
from pykern.applications.mobilenet import MobileNet
from pykern.applications.mobilenet_v2 import MobileNetV2
from pykern.applications.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from pykern.applications.xception import Xception

__all__ = ["densenet", "imagenet_utils", "resnet", "resnet50", "resnet_v2", "vgg16", "vgg19",
           "VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "ResNet50V2",
           "ResNet101V2", "ResNet152V2", "DenseNet121", "DenseNet169", "DenseNet201",
           "WeightsUnavailableError",
           "efficientnet", "inception_v3", "mobilenet", "mobilenet_v2", "mobilenet_v3",
           "xception", "InceptionV3", "MobileNet", "MobileNetV2", "MobileNetV3Small",
           "MobileNetV3Large", "Xception", "EfficientNetB0",
           "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
           "EfficientNetB5", "EfficientNetB6", "EfficientNetB7"]
