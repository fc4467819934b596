from setuptools import find_packages, setup

package_name = "twist_sim"

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
        "gymnasium",
        "mujoco",
        "gymnasium-robotics",
        "pyyaml",
        "tqdm",
        "pillow",
    ],
    zip_safe=True,
    maintainer="TWIST developers",
    maintainer_email="twist@example.org",
    description="TWIST simulation: tasks, domain randomisation, backends, matching dataset, sim twin node.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "twist-collect = twist_sim.collect:main",
            "twist-sim-grid = twist_sim.grid:main",
            "sim_twin = twist_sim.nodes.sim_twin:main",
        ],
    },
)
