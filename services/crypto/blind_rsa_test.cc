#include "services/crypto/blind_rsa.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "services/platform/error.h"
#include "services/platform/token.h"

namespace bizrelay::crypto {
namespace {

std::string Hex(std::string_view hex) {
  std::string bytes;
  if (!FromHex(hex, &bytes)) throw std::invalid_argument("bad hex in test vector");
  return bytes;
}

// RFC 9474 appendix A: one 4096-bit key shared by every vector.
constexpr std::string_view kP =
    "e1f4d7a34802e27c7392a3cea32a262a34dc3691bd87f3f310dc75673488930559c120fd0410194fb8a0da55bd0b81"
    "227e843fdca6692ae80e5a5d414116d4803fca7d8c30eaaae57e44a1816ebb5c5b0606c536246c7f11985d73168415"
    "0b63c9a3ad9e41b04c0b5b27cb188a692c84696b742a80d3cd00ab891f2457443dadfeba6d6daf108602be26d70718"
    "03c67105a5426838e6889d77e8474b29244cefaf418e381b312048b457d73419213063c60ee7b0d81820165864fef9"
    "3523c9635c22210956e53a8d96322493ffc58d845368e2416e078e5bcb5d2fd68ae6acfa54f9627c42e84a9d3f2774"
    "017e32ebca06308a12ecc290c7cd1156dcccfb2311";
constexpr std::string_view kQ =
    "c601a9caea66dc3835827b539db9df6f6f5ae77244692780cd334a006ab353c806426b60718c05245650821d39445d"
    "3ab591ed10a7339f15d83fe13f6a3dfb20b9452c6a9b42eaa62a68c970df3cadb2139f804ad8223d56108dfde30ba7"
    "d367e9b0a7a80c4fdba2fd9dde6661fc73fc2947569d2029f2870fc02d8325acf28c9afa19ecf962daa7916e21afad"
    "09eb62fe9f1cf91b77dc879b7974b490d3ebd2e95426057f35d0a3c9f45f79ac727ab81a519a8b9285932d9b2e5ccd"
    "347e59f3f32ad9ca359115e7da008ab7406707bd0e8e185a5ed8758b5ba266e8828f8d863ae133846304a2936ad7bc"
    "7c9803879d2fc4a28e69291d73dbd799f8bc238385";
constexpr std::string_view kN =
    "aec4d69addc70b990ea66a5e70603b6fee27aafebd08f2d94cbe1250c556e047a928d635c3f45ee9b66d1bc628a03b"
    "ac9b7c3f416fe20dabea8f3d7b4bbf7f963be335d2328d67e6c13ee4a8f955e05a3283720d3e1f139c38e43e0338ad"
    "058a9495c53377fc35be64d208f89b4aa721bf7f7d3fef837be2a80e0f8adf0bcd1eec5bb040443a2b2792fdca522a"
    "7472aed74f31a1ebe1eebc1f408660a0543dfe2a850f106a617ec6685573702eaaa21a5640a5dcaf9b74e397fa3af1"
    "8a2f1b7c03ba91a6336158de420d63188ee143866ee415735d155b7c2d854d795b7bc236cffd71542df34234221a04"
    "13e142d8c61355cc44d45bda94204974557ac2704cd8b593f035a5724b1adf442e78c542cd4414fce6f1298182fb6d"
    "8e53cef1adfd2e90e1e4deec52999bdc6c29144e8d52a125232c8c6d75c706ea3cc06841c7bda33568c63a6c03817f"
    "722b50fcf898237d788a4400869e44d90a3020923dc646388abcc914315215fcd1bae11b1c751fd52443aac8f60108"
    "7d8d42737c18a3fa11ecd4131ecae017ae0a14acfc4ef85b83c19fed33cfd1cd629da2c4c09e222b398e18d822f77b"
    "b378dea3cb360b605e5aa58b20edc29d000a66bd177c682a17e7eb12a63ef7c2e4183e0d898f3d6bf567ba8ae84f84"
    "f1d23bf8b8e261c3729e2fa6d07b832e07cddd1d14f55325c6f924267957121902dc19b3b32948bdead5";
constexpr std::string_view kE = "010001";
constexpr std::string_view kD =
    "0d43242aefe1fb2c13fbc66e20b678c4336d20b1808c558b6e62ad16a287077180b177e1f01b12f9c6cd6c52630257"
    "ccef26a45135a990928773f3bd2fc01a313f1dac97a51cec71cb1fd7efc7adffdeb05f1fb04812c924ed7f4a826992"
    "5dad88bd7dcfbc4ef01020ebfc60cb3e04c54f981fdbd273e69a8a58b8ceb7c2d83fbcbd6f784d052201b88a984818"
    "6f2a45c0d2826870733e6fd9aa46983e0a6e82e35ca20a439c5ee7b502a9062e1066493bdadf8b49eb30d9558ed85a"
    "bc7afb29b3c9bc644199654a4676681af4babcea4e6f71fe4565c9c1b85d9985b84ec1abf1a820a9bbebee0df1398a"
    "ae2c85ab580a9f13e7743afd3108eb32100b870648fa6bc17e8abac4d3c99246b1f0ea9f7f93a5dd5458c56d9f3f81"
    "ff2216b3c3680a13591673c43194d8e6fc93fc1e37ce2986bd628ac48088bc723d8fbe293861ca7a9f4a73e9fa63b1"
    "b6d0074f5dea2a624c5249ff3ad811b6255b299d6bc5451ba7477f19c5a0db690c3e6476398b1483d10314afd38bba"
    "f6e2fbdbcd62c3ca9797a420ca6034ec0a83360a3ee2adf4b9d4ba29731d131b099a38d6a23cc463db754603211260"
    "e99d19affc902c915d7854554aabf608e3ac52c19b8aa26ae042249b17b2d29669b5c859103ee53ef9bdc73ba3c6b5"
    "37d5c34b6d8f034671d7f3a8a6966cc4543df223565343154140fd7391c7e7be03e241f4ecfeb877a051";
constexpr std::string_view kMsg =
    "8f3dc6fb8c4a02f4d6352edf0907822c1210a9b32f9bdda4c45a698c80023aa6b59f8cfec5fdbb36331372ebefedae"
    "7d";
constexpr std::string_view kSalt =
    "051722b35f458781397c3a671a7d3bd3096503940e4c4f1aaa269d60300ce449555cd7340100df9d46944c5356825a"
    "bf";
constexpr std::string_view kInv =
    "80682c48982407b489d53d1261b19ec8627d02b8cda5336750b8cee332ae260de57b02d72609c1e0e9f28e2040fc65"
    "b6f02d56dbd6aa9af8fde656f70495dfb723ba01173d4707a12fddac628ca29f3e32340bd8f7ddb557cf819f6b01e4"
    "45ad96f874ba235584ee71f6581f62d4f43bf03f910f6510deb85e8ef06c7f09d9794a008be7ff2529f0ebb69decef"
    "646387dc767b74939265fec0223aa6d84d2a8a1cc912d5ca25b4e144ab8f6ba054b54910176d5737a2cff011da431b"
    "d5f2a0d2d66b9e70b39f4b050e45c0d9c16f02deda9ddf2d00f3e4b01037d7029cd49c2d46a8e1fc2c0c17520af1f4"
    "b5e25ba396afc4cd60c494a4c426448b35b49635b337cfb08e7c22a39b256dd032c00adddafb51a627f99a0e170417"
    "0ac1f1912e49d9db10ec04c19c58f420212973e0cb329524223a6aa56c7937c5dffdb5d966b6cd4cbc26f3201dd25c"
    "80960a1a111b32947bb78973d269fac7f5186530930ed19f68507540eed9e1bab8b00f00d8ca09b3f099aae46180e0"
    "4e3584bd7ca054df18a1504b89d1d1675d0966c4ae1407be325cdf623cf13ff13e4a28b594d59e3eadbadf6136eee7"
    "a59d6a444c9eb4e2198e8a974f27a39eb63af2c9af3870488b8adaad444674f512133ad80b9220e09158521614f1fa"
    "adfe8505ef57b7df6813048603f0dd04f4280177a11380fbfc861dbcbd7418d62155248dad5fdec0991f";

// encoded_msg of the RSABSSA-SHA384-PSS-Deterministic vector: EMSA-PSS of msg with kSalt. The
// randomized vector's encoding is checked through its blinded_msg.
constexpr std::string_view kDeterministicEncodedMsg =
    "6e0c464d9c2f9fbc147b43570fc4f238e0d0b38870b3addcf7a4217df912ccef17a7f629aa850f63a063925f312d61"
    "d6437be954b45025e8282f9c0b1131bc8ff19a8a928d859b37113db1064f92a27f64761c181c1e1f9b251ae5a2f8a4"
    "047573b67a270584e089beadcb13e7c82337797119712e9b849ff56e04385d144d3ca9d8d92bf78adb20b5bbeb3685"
    "f17038ec6afade3ef354429c51c687b45a7018ee3a6966b3af15c9ba8f40e6461ba0a17ef5a799672ad882bab02b51"
    "8f9da7c1a962945c2e9b0f02f29b31b9cdf3e633f9d9d2a22e96e1de28e25241ca7dd04147112f578973403e0f4fd8"
    "0865965475d22294f065e17a1c4a201de93bd14223e6b1b999fd548f2f759f52db71964528b6f15b9c2d7811f2a0a3"
    "5d534b8216301c47f4f04f412cae142b48c4cdff78bc54df690fd43142d750c671dd8e2e938e6a440b2f825b6dbb3e"
    "19f1d7a3c0150428a47948037c322365b7fe6fe57ac88d8f80889e9ff38177bad8c8d8d98db42908b389cb59692a58"
    "ce275aa15acb032ca951b3e0a3404b7f33f655b7c7d83a2f8d1b6bbff49d5fcedf2e030e80881aa436db27a5c0dea1"
    "3f32e7d460dbf01240c2320c2bb5b3225b17145c72d61d47c8f84d1e19417ebd8ce3638a82d395cc6f7050b6209d92"
    "83dc7b93fecc04f3f9e7f566829ac41568ef799480c733c09759aa9734e2013d7640dc6151018ea902bc";

struct Rfc9474Vector {
  const char* name;
  BlindRsaVariant variant;
  std::string_view msg_prefix;
  std::string_view blinded_msg;
  std::string_view blind_sig;
  std::string_view sig;
};

const Rfc9474Vector kVectors[] = {
    {
        .name = "RSABSSA_SHA384_PSS_Randomized",
        .variant = BlindRsaVariant::kSha384PssRandomized,
        .msg_prefix = "8417e699b219d583fb6216ae0c53ca0e9723442d02f1d1a34295527e7d929e8b",
        .blinded_msg =
            "aa3ee045138d874669685ffaef962c7694a9450aa9b4fd6465db9b3b75a522bb921c4c0fdcdfae96675932"
            "55099cff51f5d3fd65e8ffb9d3b3036252a6b51b6edfb3f40382b2bbf34c0055e4cbcc422850e586d84f19"
            "0cd449af11dc65545f5fe26fd89796eb87da4bda0c545f397cddfeeb56f06e28135ec74fd477949e7677f6"
            "f36cfae8fd5c1c5898b03b9c244cf6d1a4fb7ad1cb43aff5e80cb462fac541e72f67f0a50f1843d1759edf"
            "aae92d1a916d3f0efaf4d650db416c3bf8abdb5414a78cebc97de676723cb119e77aea489f2bbf530c440e"
            "bc5a75dccd3ebf5a412a5f346badd61bee588e5917bdcce9dc33c882e39826951b0b8276c6203971947072"
            "b726e935816056ff5cb11a71ca2946478584126bb877acdf87255f26e6cca4e0878801307485d3b7bb89b2"
            "89551a8b65a7a6b93db010423d1406e149c87731910306e5e410b41d4da3234624e74f92845183e323cf7e"
            "b244f212a695f8856c675fbc3a021ce649e22c6f0d053a9d238841cf3afdc2739f99672a419ae13c17f1f8"
            "a3bc302ec2e7b98e8c353898b7150ad8877ec841ea6e4b288064c254fefd0d049c3ad196bf7ffa535e7458"
            "5d0120ce728036ed500942fbd5e6332c298f1ffebe9ff60c1e117b274cf0cb9d70c36ee4891528996ec1ed"
            "0b178e9f3c0c0e6120885f39e8ccaadbb20f3196378c07b1ff22d10049d3039a7a92fe7efdd95d",
        .blind_sig =
            "3f4a79eacd4445fca628a310d41e12fcd813c4d43aa4ef2b81226953248d6d00adfee6b79cb88bfa1f9927"
            "0369fd063c023e5ed546719b0b2d143dd1bca46b0e0e615fe5c63d95c5a6b873b8b50bc52487354e69c3df"
            "bf416e7aca18d5842c89b676efdd38087008fa5a810161fcdec26f20ccf2f1e6ab0f9d2bb93e051cb9e86a"
            "9b28c5bb62fd5f5391379f887c0f706a08bcc3b9e7506aaf02485d688198f5e22eefdf837b2dd919320b17"
            "482c5cc54271b4ccb41d267629b3f844fd63750b01f5276c79e33718bb561a152acb2eb36d8be75bce05c9"
            "d1b94eb609106f38226fb2e0f5cd5c5c39c59dda166862de498b8d92f6bcb41af433d65a2ac23da87f3976"
            "4cb64e79e74a8f4ce4dd567480d967cefac46b6e9c06434c3715635834357edd2ce6f105eea854ac126ccf"
            "a3de2aac5607565a4e5efaac5eed491c335f6fc97e6eb7e9cea3e12de38dfb315220c0a3f84536abb2fdd7"
            "22813e083feda010391ac3d8fd1cd9212b5d94e634e69ebcc800c4d5c4c1091c64afc37acf563c7fc0a6e4"
            "c082bc55544f50a7971f3fb97d5853d72c3af34ffd5ce123998be5360d1059820c66a81e1ee6d9c1803b5b"
            "62af6bc877526df255b6d1d835d8c840bebbcd6cc0ee910f17da37caf8488afbc08397a1941fcc79e76a58"
            "88a95b3d5405e13f737bea5c78d716a48eb9dc0aec8de39c4b45c6914ad4a8185969f70b1adf46",
        .sig =
            "191e941c57510e22d29afad257de5ca436d2316221fe870c7cb75205a6c071c2735aed0bc24c37f3d5bd96"
            "0ab97a829a508f966bbaed7a82645e65eadaf24ab5e6d9421392c5b15b7f9b640d34fec512846a3100b80f"
            "75ef51064602118c1a77d28d938f6efc22041d60159a518d3de7c4d840c9c68109672d743d299d8d2577ef"
            "60c19ab463c716b3fa75fa56f5735349d414a44df12bf0dd44aa3e10822a651ed4cb0eb6f47c9bd0ef14a0"
            "34a7ac2451e30434d513eb22e68b7587a8de9b4e63a059d05c8b22c7c51e2cfee2d8bef511412e93c859a1"
            "3726d87c57d1bc4c2e68ab121562f839c3a3d233e87ed63c69b7e57525367753fbebcc2a9805a2802659f5"
            "888b2c69115bf865559f10d906c09d048a0d71bfee4b33857393ec2b69e451433496d02c9a7910abb95431"
            "7720bbde9e69108eafc3e90bad3d5ca4066d7b1e49013fa04e948104a1dd82b12509ecb146e948c54bd8bf"
            "b5e6d18127cd1f7a93c3cf9f2d869d5a78878c03fe808a0d799e910be6f26d18db61c485b303631d356836"
            "8fc41986d08a95ea6ac0592240c19d7b22416b9c82ae6241e211dd5610d0baaa9823158f9c32b66318f552"
            "9491b7eeadcaa71898a63bac9d95f4aa548d5e97568d744fc429104e32edd9c87519892a198a30d333d427"
            "739ffb9607b092e910ae37771abf2adb9f63bc058bf58062ad456cb934679795bbdfcdfad5e0f2",
    },
    {
        .name = "RSABSSA_SHA384_PSS_Deterministic",
        .variant = BlindRsaVariant::kSha384PssDeterministic,
        .msg_prefix = "",
        .blinded_msg =
            "10c166c6a711e81c46f45b18e5873cc4f494f003180dd7f115585d871a28930259654fe28a54dab319cc50"
            "11204c8373b50a57b0fdc7a678bd74c523259dfe4fd5ea9f52f170e19dfa332930ad1609fc8a00902d725c"
            "fe50685c95e5b2968c9a2828a21207fcf393d15f849769e2af34ac4259d91dfd98c3a707c509e1af55647e"
            "faa31290ddf48e0133b798562af5eabd327270ac2fb6c594734ce339a14ea4fe1b9a2f81c0bc230ca523bd"
            "a17ff42a377266bc2778a274c0ae5ec5a8cbbe364fcf0d2403f7ee178d77ff28b67a20c7ceec009182dbca"
            "a9bc99b51ebbf13b7d542be337172c6474f2cd3561219fe0dfa3fb207cff89632091ab841cf38d8aa88af6"
            "891539f263adb8eac6402c41b6ebd72984e43666e537f5f5fe27b2b5aa114957e9a580730308a5f5a9c63a"
            "1eb599f093ab401d0c6003a451931b6d124180305705845060ebba6b0036154fcef3e5e9f9e4b87e8f0845"
            "42fd1dd67e7782a5585150181c01eb6d90cb95883837384a5b91dbb606f266059ecc51b5acbaa280e45cfd"
            "2eec8cc1cdb1b7211c8e14805ba683f9b78824b2eb005bc8a7d7179a36c152cb87c8219e5569bba911bb32"
            "a1b923ca83de0e03fb10fba75d85c55907dda5a2606bf918b056c3808ba496a4d95532212040a5f44f37e1"
            "097f26dc27b98a51837daa78f23e532156296b64352669c94a8a855acf30533d8e0594ace7c442",
        .blind_sig =
            "364f6a40dbfbc3bbb257943337eeff791a0f290898a6791283bba581d9eac90a6376a837241f5f73a78a5c"
            "6746e1306ba3adab6067c32ff69115734ce014d354e2f259d4cbfb890244fd451a497fe6ecf9aa90d19a2d"
            "441162f7eaa7ce3fc4e89fd4e76b7ae585be2a2c0fd6fb246b8ac8d58bcb585634e30c9168a434786fe5e0"
            "b74bfe8187b47ac091aa571ffea0a864cb906d0e28c77a00e8cd8f6aba4317a8cc7bf32ce566bd1ef80c64"
            "de041728abe087bee6cadd0b7062bde5ceef308a23bd1ccc154fd0c3a26110df6193464fc0d24ee189aea8"
            "979d722170ba945fdcce9b1b4b63349980f3a92dc2e5418c54d38a862916926b3f9ca270a8cf40dfb9772b"
            "fbdd9a3e0e0892369c18249211ba857f35963d0e05d8da98f1aa0c6bba58f47487b8f663e395091275f829"
            "41830b050b260e4767ce2fa903e75ff8970c98bfb3a08d6db91ab1746c86420ee2e909bf681cac17369713"
            "5983c3594b2def673736220452fde4ddec867d40ff42dd3da36c84e3e52508b891a00f50b4f62d112edb3b"
            "6b6cc3dbd546ba10f36b03f06c0d82aeec3b25e127af545fac28e1613a0517a6095ad18a98ab79f68801e0"
            "5c175e15bae21f821e80c80ab4fdec6fb34ca315e194502b8f3dcf7892b511aee45060e3994cd15e003861"
            "bc7220a2babd7b40eda03382548a34a7110f9b1779bf3ef6011361611e6bc5c0dc851e1509de1a",
        .sig =
            "6fef8bf9bc182cd8cf7ce45c7dcf0e6f3e518ae48f06f3c670c649ac737a8b8119a34d51641785be151a69"
            "7ed7825fdfece82865123445eab03eb4bb91cecf4d6951738495f8481151b62de869658573df4e50a95c17"
            "c31b52e154ae26a04067d5ecdc1592c287550bb982a5bb9c30fd53a768cee6baabb3d483e9f1e2da954c7f"
            "4cf492fe3944d2fe456c1ecaf0840369e33fb4010e6b44bb1d721840513524d8e9a3519f40d1b81ae34fb7"
            "a31ee6b7ed641cb16c2ac999004c2191de0201457523f5a4700dd649267d9286f5c1d193f1454c9f868a57"
            "816bf5ff76c838a2eeb616a3fc9976f65d4371deecfbab29362caebdff69c635fe5a2113da4d4d8c24f0b1"
            "6a0584fa05e80e607c5d9a2f765f1f069f8d4da21f27c2a3b5c984b4ab24899bef46c6d9323df4862fe51c"
            "e300fca40fb539c3bb7fe2dcc9409e425f2d3b95e70e9c49c5feb6ecc9d43442c33d50003ee936845892fb"
            "8be475647da9a080f5bc7f8a716590b3745c2209fe05b17992830ce15f32c7b22cde755c8a2fe50bd814a0"
            "434130b807dc1b7218d4e85342d70695a5d7f29306f25623ad1e8aa08ef71b54b8ee447b5f64e73d09bdd6"
            "c3b7ca224058d7c67cc7551e9241688ada12d859cb7646fbd3ed8b34312f3b49d69802f0eaa11bc4211c2f"
            "7a29cd5c01ed01a39001c5856fab36228f5ee2f2e1110811872fe7c865c42ed59029c706195d52",
    },
};

BlindRsaPrivateKey VectorKey() {
  return BlindRsaPrivateKey::FromComponents(Hex(kN), Hex(kE), Hex(kD), Hex(kP), Hex(kQ));
}

template <typename F>
std::string ReasonOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.reason();
  }
  return "no error";
}

class Rfc9474VectorTest : public ::testing::TestWithParam<Rfc9474Vector> {
 protected:
  static void SetUpTestSuite() { key_ = new BlindRsaPrivateKey(VectorKey()); }
  static void TearDownTestSuite() {
    delete key_;
    key_ = nullptr;
  }
  std::string Prepared() const { return Hex(GetParam().msg_prefix) + Hex(kMsg); }

  static BlindRsaPrivateKey* key_;
};

BlindRsaPrivateKey* Rfc9474VectorTest::key_ = nullptr;

TEST(Rfc9474EncodingTest, EmsaPssEncodingMatchesDeterministicVector) {
  EXPECT_EQ(ToHex(internal::EmsaPssEncodeSha384(Hex(kMsg), Hex(kSalt), 4096)),
            kDeterministicEncodedMsg);
}

TEST_P(Rfc9474VectorTest, KeyMatchesVector) {
  EXPECT_EQ(ToHex(key_->public_key().modulus()), kN);
  EXPECT_EQ(ToHex(key_->public_key().public_exponent()), kE);
  EXPECT_EQ(key_->public_key().modulus_bits(), 4096);
}

TEST_P(Rfc9474VectorTest, PreparesMessageAsVectorDoes) {
  const Rfc9474Vector& v = GetParam();
  std::string prepared = PrepareMessage(v.variant, Hex(kMsg));
  if (v.variant == BlindRsaVariant::kSha384PssDeterministic) {
    EXPECT_EQ(prepared, Hex(kMsg));
  } else {
    // The prefix is random, so only its shape can be compared with the vector.
    ASSERT_EQ(prepared.size(), Hex(v.msg_prefix).size() + Hex(kMsg).size());
    EXPECT_TRUE(prepared.ends_with(Hex(kMsg)));
    EXPECT_NE(prepared.substr(0, 32), PrepareMessage(v.variant, Hex(kMsg)).substr(0, 32));
  }
}

TEST_P(Rfc9474VectorTest, BlindsAsVectorDoes) {
  const Rfc9474Vector& v = GetParam();
  BlindingResult blinded =
      internal::BlindWithInverse(key_->public_key(), Prepared(), Hex(kSalt), Hex(kInv));
  EXPECT_EQ(ToHex(blinded.blinded_msg), v.blinded_msg);
  EXPECT_EQ(ToHex(blinded.inv), kInv);
  EXPECT_EQ(blinded.prepared_msg, Prepared());
}

TEST_P(Rfc9474VectorTest, BlindSignsAsVectorDoes) {
  EXPECT_EQ(ToHex(key_->BlindSign(Hex(GetParam().blinded_msg))), GetParam().blind_sig);
}

TEST_P(Rfc9474VectorTest, FinalizesToVectorSignature) {
  const Rfc9474Vector& v = GetParam();
  std::string sig = key_->public_key().Finalize(Hex(v.blind_sig), Hex(kInv), Prepared());
  EXPECT_EQ(ToHex(sig), v.sig);
}

TEST_P(Rfc9474VectorTest, VectorSignatureVerifiesAsPlainRsaPss) {
  const Rfc9474Vector& v = GetParam();
  BlindRsaPublicKey verifier = BlindRsaPublicKey::FromDer(key_->public_key().ToDer());
  EXPECT_TRUE(verifier.Verify(Prepared(), Hex(v.sig)));
  EXPECT_FALSE(verifier.Verify(Hex(kMsg) + "x", Hex(v.sig)));
}

INSTANTIATE_TEST_SUITE_P(Rfc9474, Rfc9474VectorTest, ::testing::ValuesIn(kVectors),
                         [](const auto& info) { return std::string(info.param.name); });

// Properties checked with a freshly generated key.
class BlindRsaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new BlindRsaPrivateKey(BlindRsaPrivateKey::Generate(2048));
  }
  static void TearDownTestSuite() {
    delete key_;
    key_ = nullptr;
  }
  static const BlindRsaPublicKey& pub() { return key_->public_key(); }

  // The whole protocol: client blinds, signer signs, client finalizes.
  static std::pair<BlindingResult, std::string> Issue(std::string_view msg,
                                                      BlindRsaVariant variant) {
    BlindingResult blinded = pub().Blind(msg, variant);
    std::string blind_sig = key_->BlindSign(blinded.blinded_msg);
    return {blinded, pub().Finalize(blind_sig, blinded.inv, blinded.prepared_msg)};
  }

  static BlindRsaPrivateKey* key_;
};

BlindRsaPrivateKey* BlindRsaTest::key_ = nullptr;

TEST_F(BlindRsaTest, GeneratedKeyHasRequestedSize) {
  EXPECT_EQ(pub().modulus_bits(), 2048);
  EXPECT_EQ(pub().modulus_bytes(), 256u);
  EXPECT_EQ(ToHex(pub().public_exponent()), "010001");
}

TEST_F(BlindRsaTest, RandomizedRoundTripVerifies) {
  auto [blinded, sig] = Issue("send token", BlindRsaVariant::kSha384PssRandomized);
  EXPECT_EQ(blinded.prepared_msg.size(), kBlindRsaRandomizedPrefixBytes + 10);
  EXPECT_TRUE(blinded.prepared_msg.ends_with("send token"));
  EXPECT_EQ(sig.size(), 256u);
  EXPECT_TRUE(pub().Verify(blinded.prepared_msg, sig));
}

TEST_F(BlindRsaTest, DeterministicRoundTripVerifies) {
  auto [blinded, sig] = Issue("send token", BlindRsaVariant::kSha384PssDeterministic);
  EXPECT_EQ(blinded.prepared_msg, "send token");
  EXPECT_TRUE(pub().Verify("send token", sig));
}

TEST_F(BlindRsaTest, ConcurrentVerifiesShareOneKey) {
  // Every Verify copies the key's one prepared context; threads doing so at once must neither
  // disturb each other nor the context.
  auto [blinded, sig] = Issue("send token", BlindRsaVariant::kSha384PssRandomized);
  std::string bad = sig;
  bad[10] = static_cast<char>(bad[10] ^ 1);
  std::vector<std::thread> threads;
  std::vector<int> right(4, 0), wrong(4, 0);
  for (size_t t = 0; t < right.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        right[t] += pub().Verify(blinded.prepared_msg, sig) ? 1 : 0;
        wrong[t] += pub().Verify(blinded.prepared_msg, bad) ? 1 : 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(right, testing::Each(200));
  EXPECT_THAT(wrong, testing::Each(0));
}

TEST_F(BlindRsaTest, EmptyMessageRoundTripVerifies) {
  auto [blinded, sig] = Issue("", BlindRsaVariant::kSha384PssDeterministic);
  EXPECT_TRUE(pub().Verify("", sig));
}

TEST_F(BlindRsaTest, SignatureDoesNotVerifyForAnotherMessage) {
  auto [blinded, sig] = Issue("token A", BlindRsaVariant::kSha384PssDeterministic);
  EXPECT_FALSE(pub().Verify("token B", sig));
  auto [rblinded, rsig] = Issue("token A", BlindRsaVariant::kSha384PssRandomized);
  EXPECT_FALSE(pub().Verify("token A", rsig));  // The prefix is part of what is signed.
  std::string other_prefix = rblinded.prepared_msg;
  other_prefix[0] = static_cast<char>(other_prefix[0] ^ 1);
  EXPECT_FALSE(pub().Verify(other_prefix, rsig));
}

TEST_F(BlindRsaTest, SignatureDoesNotVerifyUnderAnotherKey) {
  auto [blinded, sig] = Issue("token", BlindRsaVariant::kSha384PssDeterministic);
  BlindRsaPrivateKey other = BlindRsaPrivateKey::Generate(2048);
  EXPECT_FALSE(other.public_key().Verify("token", sig));
}

TEST_F(BlindRsaTest, EveryFlippedSignatureBitFails) {
  auto [blinded, sig] = Issue("token", BlindRsaVariant::kSha384PssDeterministic);
  for (size_t i = 0; i < sig.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = sig;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      ASSERT_FALSE(pub().Verify("token", bad)) << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(BlindRsaTest, MalformedSignaturesFailWithoutThrowing) {
  auto [blinded, sig] = Issue("token", BlindRsaVariant::kSha384PssDeterministic);
  EXPECT_FALSE(pub().Verify("token", ""));
  EXPECT_FALSE(pub().Verify("token", sig.substr(1)));
  EXPECT_FALSE(pub().Verify("token", sig + std::string(1, '\0')));
  EXPECT_FALSE(pub().Verify("token", std::string(sig.size(), '\0')));
  EXPECT_FALSE(pub().Verify("token", std::string(sig.size(), '\xff')));  // Above n.
}

TEST_F(BlindRsaTest, SignerNeverSeesTheMessage) {
  const std::string prepared = "a token the signer must not see";
  const std::string salt(kBlindRsaSaltBytes, 's');
  std::string encoded = internal::EmsaPssEncodeSha384(prepared, salt, pub().modulus_bits());
  // Two blindings of the same encoded message with different factors.
  BlindingResult a = pub().Blind(prepared, BlindRsaVariant::kSha384PssDeterministic);
  BlindingResult b = pub().Blind(prepared, BlindRsaVariant::kSha384PssDeterministic);
  std::string two(pub().modulus_bytes(), '\0');
  two.back() = 2;
  BlindingResult c = internal::BlindWithInverse(pub(), prepared, salt, two);
  for (const BlindingResult* r : {&a, &b, &c}) {
    EXPECT_EQ(r->blinded_msg.size(), pub().modulus_bytes());
    EXPECT_NE(r->blinded_msg, encoded);
    EXPECT_EQ(r->blinded_msg.find(prepared), std::string::npos);
  }
  EXPECT_NE(a.blinded_msg, b.blinded_msg);
  EXPECT_NE(a.inv, b.inv);
  // Each blinding still finalizes to a valid, distinct signature over the same message.
  std::string sig_a = pub().Finalize(key_->BlindSign(a.blinded_msg), a.inv, prepared);
  std::string sig_b = pub().Finalize(key_->BlindSign(b.blinded_msg), b.inv, prepared);
  EXPECT_TRUE(pub().Verify(prepared, sig_a));
  EXPECT_TRUE(pub().Verify(prepared, sig_b));
  EXPECT_NE(sig_a, sig_b);
}

TEST_F(BlindRsaTest, BlindedMessagesLookUnrelatedAcrossIssuances) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    BlindingResult r = pub().Blind("same message", BlindRsaVariant::kSha384PssDeterministic);
    EXPECT_TRUE(seen.insert(r.blinded_msg).second);
  }
}

TEST_F(BlindRsaTest, FinalizeRejectsWrongInverse) {
  BlindingResult a = pub().Blind("token", BlindRsaVariant::kSha384PssRandomized);
  BlindingResult b = pub().Blind("token", BlindRsaVariant::kSha384PssRandomized);
  std::string blind_sig = key_->BlindSign(a.blinded_msg);
  EXPECT_EQ(ReasonOf([&] { pub().Finalize(blind_sig, b.inv, a.prepared_msg); }),
            "INVALID_BLIND_SIGNATURE");
  EXPECT_EQ(ReasonOf([&] { pub().Finalize(blind_sig, a.inv, b.prepared_msg); }),
            "INVALID_BLIND_SIGNATURE");
}

TEST_F(BlindRsaTest, FinalizeRejectsForgedOrMalformedBlindSignatures) {
  BlindingResult a = pub().Blind("token", BlindRsaVariant::kSha384PssRandomized);
  std::string blind_sig = key_->BlindSign(a.blinded_msg);
  std::string flipped = blind_sig;
  flipped[100] = static_cast<char>(flipped[100] ^ 0x10);
  EXPECT_EQ(ReasonOf([&] { pub().Finalize(flipped, a.inv, a.prepared_msg); }),
            "INVALID_BLIND_SIGNATURE");
  EXPECT_EQ(ReasonOf([&] { pub().Finalize(blind_sig.substr(1), a.inv, a.prepared_msg); }),
            "INVALID_BLIND_SIGNATURE");
  EXPECT_EQ(ReasonOf([&] {
              pub().Finalize(std::string(blind_sig.size(), '\xff'), a.inv, a.prepared_msg);
            }),
            "INVALID_BLIND_SIGNATURE");
  // A signer that answers with a valid signature of some other blinded message is caught too.
  BlindingResult b = pub().Blind("token", BlindRsaVariant::kSha384PssRandomized);
  std::string substituted = key_->BlindSign(b.blinded_msg);
  EXPECT_EQ(ReasonOf([&] { pub().Finalize(substituted, a.inv, a.prepared_msg); }),
            "INVALID_BLIND_SIGNATURE");
}

TEST_F(BlindRsaTest, BlindSignRejectsMalformedInput) {
  EXPECT_EQ(ReasonOf([&] { key_->BlindSign(""); }), "INVALID_BLINDED_MESSAGE");
  EXPECT_EQ(ReasonOf([&] { key_->BlindSign(std::string(255, '\1')); }), "INVALID_BLINDED_MESSAGE");
  EXPECT_EQ(ReasonOf([&] { key_->BlindSign(std::string(257, '\1')); }), "INVALID_BLINDED_MESSAGE");
  EXPECT_EQ(ReasonOf([&] { key_->BlindSign(std::string(256, '\xff')); }),
            "INVALID_BLINDED_MESSAGE");
  EXPECT_EQ(ReasonOf([&] { key_->BlindSign(pub().modulus()); }), "INVALID_BLINDED_MESSAGE");
}

TEST_F(BlindRsaTest, BlindWithInverseRejectsNonInvertibleFactor) {
  const std::string salt(kBlindRsaSaltBytes, 's');
  EXPECT_EQ(ReasonOf([&] { internal::BlindWithInverse(pub(), "m", salt, std::string(256, '\0')); }),
            "INVALID_MESSAGE");
  EXPECT_EQ(ReasonOf([&] { internal::BlindWithInverse(pub(), "m", salt, pub().modulus()); }),
            "INVALID_MESSAGE");
}

TEST_F(BlindRsaTest, KeysRoundTripThroughPemAndDer) {
  BlindRsaPrivateKey reloaded = BlindRsaPrivateKey::FromPem(key_->ToPem());
  EXPECT_EQ(reloaded.public_key().ToDer(), pub().ToDer());
  EXPECT_EQ(BlindRsaPublicKey::FromPem(pub().ToPem()).ToDer(), pub().ToDer());
  EXPECT_EQ(BlindRsaPublicKey::FromDer(pub().ToDer()).modulus(), pub().modulus());
  EXPECT_THAT(pub().ToPem(), ::testing::HasSubstr("BEGIN PUBLIC KEY"));
  EXPECT_THAT(key_->ToPem(), ::testing::HasSubstr("BEGIN PRIVATE KEY"));
  // A signature from the reloaded key verifies under the original public key.
  BlindingResult r = pub().Blind("token", BlindRsaVariant::kSha384PssRandomized);
  std::string sig = pub().Finalize(reloaded.BlindSign(r.blinded_msg), r.inv, r.prepared_msg);
  EXPECT_TRUE(pub().Verify(r.prepared_msg, sig));
}

TEST_F(BlindRsaTest, ConcurrentIssuancesWithSharedKeysAllVerify) {
  // Keys are shared read-only between request threads.
  std::vector<std::thread> threads;
  std::vector<int> verified(4, 0);
  for (size_t t = 0; t < verified.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto [blinded, sig] = Issue("token", BlindRsaVariant::kSha384PssRandomized);
        verified[t] += pub().Verify(blinded.prepared_msg, sig) ? 1 : 0;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(verified, ::testing::Each(10));
}

TEST_F(BlindRsaTest, PublicKeyCarriesNoPrivateMaterial) {
  EXPECT_THAT(pub().ToPem(), ::testing::Not(::testing::HasSubstr("PRIVATE")));
  EXPECT_EQ(ReasonOf([&] { BlindRsaPrivateKey::FromPem(pub().ToPem()); }), "INVALID_KEY");
}

TEST_F(BlindRsaTest, RejectsMalformedKeys) {
  std::string der = pub().ToDer();
  EXPECT_EQ(ReasonOf([&] { BlindRsaPublicKey::FromDer(""); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPublicKey::FromDer(der.substr(0, der.size() - 1)); }),
            "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPublicKey::FromDer(der + "x"); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPublicKey::FromPem("not a key"); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPublicKey::FromPem(""); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPrivateKey::FromPem(""); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPublicKey::FromPem(std::string(1 << 20, 'A')); }),
            "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPrivateKey::FromPem("not a key"); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPrivateKey::Generate(1024); }), "INVALID_KEY_SIZE");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPrivateKey::Generate(2047); }), "INVALID_KEY_SIZE");
  // n != p * q.
  EXPECT_EQ(ReasonOf([&] {
              BlindRsaPrivateKey::FromComponents(Hex(kN), Hex(kE), Hex(kD), Hex(kP), Hex(kP));
            }),
            "INVALID_KEY");
}

// Keys made with OpenSSL directly, to check what the library refuses to load.
std::string PemOf(EVP_PKEY* pkey, bool private_key, const char* passphrase = nullptr) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (private_key) {
    const EVP_CIPHER* cipher = passphrase != nullptr ? EVP_aes_256_cbc() : nullptr;
    PEM_write_bio_PrivateKey(bio.get(), pkey, cipher, nullptr, 0, nullptr,
                             const_cast<char*>(passphrase));
  } else {
    PEM_write_bio_PUBKEY(bio.get(), pkey);
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

TEST(BlindRsaKeyPolicyTest, RefusesSmallAndNonRsaKeys) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> small(EVP_RSA_gen(1024), EVP_PKEY_free);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(ReasonOf([&] { BlindRsaPublicKey::FromPem(PemOf(small.get(), false)); }),
            "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPrivateKey::FromPem(PemOf(small.get(), true)); }),
            "INVALID_KEY");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ed(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
  ASSERT_NE(ed, nullptr);
  EXPECT_EQ(ReasonOf([&] { BlindRsaPublicKey::FromPem(PemOf(ed.get(), false)); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { BlindRsaPrivateKey::FromPem(PemOf(ed.get(), true)); }), "INVALID_KEY");
}

using PkeyHolder = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

PkeyHolder RsaPssKey(const EVP_MD* restricted_md) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) != 1 ||
      (restricted_md != nullptr &&
       EVP_PKEY_CTX_set_rsa_pss_keygen_md(ctx.get(), restricted_md) != 1) ||
      EVP_PKEY_generate(ctx.get(), &pkey) != 1) {
    throw std::runtime_error("RSA-PSS keygen failed");
  }
  return PkeyHolder(pkey, EVP_PKEY_free);
}

TEST(BlindRsaKeyPolicyTest, VerifiesPlainRsaPssSignaturesMadeByOpenSsl) {
  // Verifiers may hold the key as an RSASSA-PSS SubjectPublicKeyInfo (as Privacy Pass
  // publishes it) and receive signatures from any RSA-PSS implementation.
  PkeyHolder pss = RsaPssKey(nullptr);
  BlindRsaPublicKey pub = BlindRsaPublicKey::FromPem(PemOf(pss.get(), false));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestSignInit(md.get(), &pctx, EVP_sha384(), nullptr, pss.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()), 1);
  const std::string msg = "token";
  std::string sig(256, '\0');
  size_t sig_len = sig.size();
  ASSERT_EQ(EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                           reinterpret_cast<const unsigned char*>(msg.data()), msg.size()),
            1);
  ASSERT_EQ(sig_len, 256u);
  EXPECT_TRUE(pub.Verify(msg, sig));
  EXPECT_FALSE(pub.Verify("other", sig));
}

TEST(BlindRsaKeyPolicyTest, RefusesRsaPssKeysRestrictedToOtherParameters) {
  PkeyHolder sha256_only = RsaPssKey(EVP_sha256());
  EXPECT_EQ(ReasonOf([&] { BlindRsaPublicKey::FromPem(PemOf(sha256_only.get(), false)); }),
            "INVALID_KEY");
}

TEST(BlindRsaKeyPolicyTest, RefusesEncryptedPrivateKeyWithoutPrompting) {
  BlindRsaPrivateKey key = VectorKey();
  std::string pem = key.ToPem();
  std::unique_ptr<BIO, decltype(&BIO_free)> in(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  ASSERT_NE(pkey, nullptr);
  std::string encrypted = PemOf(pkey.get(), true, "passphrase");
  ASSERT_THAT(encrypted, ::testing::HasSubstr("ENCRYPTED"));
  EXPECT_EQ(ReasonOf([&] { BlindRsaPrivateKey::FromPem(encrypted); }), "INVALID_KEY");
}

TEST(BlindRsaKeyPolicyTest, SelfCheckCatchesAWrongPrivateExponent) {
  // A key whose d does not match e stands in for a signer fault: BlindSign must refuse to
  // release the result rather than hand out a value that would not verify.
  std::string d = Hex(kD);
  d.back() = static_cast<char>(d.back() ^ 2);
  BlindRsaPrivateKey bad =
      BlindRsaPrivateKey::FromComponents(Hex(kN), Hex(kE), d, Hex(kP), Hex(kQ));
  try {
    bad.BlindSign(Hex(kVectors[1].blinded_msg));
    ADD_FAILURE() << "BlindSign released an unchecked signature";
  } catch (const Error& e) {
    ADD_FAILURE() << "caller was blamed for a signer fault: " << e.reason();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("self-check"));
  }
}

}  // namespace
}  // namespace bizrelay::crypto
