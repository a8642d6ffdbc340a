"""Prints the settings kafka-python starts a consumer and a producer with, given nothing:
one `consumer KEY VALUE` or `producer KEY VALUE` line per setting of DEFAULT_CONFIG, sorted.
tests/profile_defaults.rs compares them with the kafka-python profile's defaults. Numbers
print as integers (`inf` for no limit), classes by name, tuples of classes joined by `,`.
Nothing connects anywhere."""
import math

from kafka import KafkaConsumer, KafkaProducer


def show(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return "inf" if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (tuple, list)):
        return ",".join(show(v) for v in value)
    if isinstance(value, type):
        return value.__name__
    return type(value).__name__


for who, cls in (("consumer", KafkaConsumer), ("producer", KafkaProducer)):
    for key in sorted(cls.DEFAULT_CONFIG):
        print(who, key, show(cls.DEFAULT_CONFIG[key]))
