from setuptools import find_packages, setup

package_name = "twist_models"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=[
        "setuptools",
        "numpy",
        "torch",
        "safetensors",
        "pyyaml",
        "tqdm",
        "tensorboard",
        "twist_sim",
    ],
    zip_safe=True,
    maintainer="TWIST developers",
    maintainer_email="twist@example.org",
    description="TWIST models: RSSM, Dreamer teacher, TWIST distillation, baselines, evaluation, policy bundles.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "twist-train-teacher = twist_models.train_teacher:main",
            "twist-distill = twist_models.distill:main",
            "twist-teacher-rollouts = twist_models.rollouts:main",
            "twist-teacher-snapshot = twist_models.snapshot:main",
            "twist-render-replay = twist_models.replay_render:main",
            "twist-export = twist_models.bundle:main",
            "twist-eval = twist_models.evaluate:main",
            "twist-train-baseline = twist_models.baselines.train:main",
            "twist-eval-suite = twist_models.eval_suite:main",
            "twist-report = twist_models.report:main",
        ],
    },
)
