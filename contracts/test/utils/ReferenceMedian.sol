// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The median as `notes/oracle-interface.md` defines it, written independently of the hub so the
/// tests compare the hub against it.
library ReferenceMedian {
    /// @dev Sorts a copy and takes the middle. The even case without overflow: the halves truncated toward
    /// zero, then the lost remainders (each -1, 0 or 1) put back, rounded toward zero.
    function median(int256[] memory answers) internal pure returns (int256) {
        int256[] memory sorted = new int256[](answers.length);
        for (uint256 i; i < answers.length; ++i) {
            sorted[i] = answers[i];
        }
        for (uint256 i; i < sorted.length; ++i) {
            for (uint256 j = i + 1; j < sorted.length; ++j) {
                if (sorted[j] < sorted[i]) (sorted[i], sorted[j]) = (sorted[j], sorted[i]);
            }
        }
        uint256 middle = sorted.length / 2;
        if (sorted.length % 2 == 1) return sorted[middle];
        int256 low = sorted[middle - 1];
        int256 high = sorted[middle];
        int256 mean = low / 2 + high / 2;
        int256 remainder = low % 2 + high % 2;
        if (remainder == 2 || remainder == -2) return mean + remainder / 2;
        // The exact mean is `mean + remainder / 2` with a half: toward zero keeps `mean` unless the half
        // points toward zero from it.
        if (remainder == 1 && mean < 0) return mean + 1;
        if (remainder == -1 && mean > 0) return mean - 1;
        return mean;
    }
}
