"""Texts for the language tests, written for this project (Apache-2.0, like the repository): Chinese,
Spanish and English medical prose, English site furniture, and Scottish Gaelic and Hmong (languages
langdetect has no profile for). Written by hand, not copied from any page."""
from __future__ import annotations

ZH = (
    "社区获得性肺炎是成年人住院的常见原因之一。医生应当根据患者的症状、体征和胸部影像学检查结果作出诊断，并评估病情的严重程度。"
    "对于没有基础疾病的轻症患者，可以在门诊口服抗生素治疗，通常疗程为五天。治疗四十八小时后应重新评估患者，如果发热和呼吸困难没有改善，"
    "需要考虑更换药物或者住院治疗。\n"
    "高血压患者应当定期测量血压，减少食盐摄入，保持适当的体重，并坚持规律的体育锻炼。吸烟和过量饮酒会增加心脏病和中风的风险，"
    "因此医生建议患者戒烟限酒。如果生活方式的改变不能使血压降到目标水平，医生会开始药物治疗，并在随访中调整剂量。\n"
    "糖尿病的管理包括饮食控制、运动、血糖监测和药物治疗。患者需要了解低血糖的症状，例如出汗、心慌和头晕，并随身携带含糖食物。"
    "每年应检查眼底、肾功能和足部，以便及早发现并发症。护士和营养师在患者教育中发挥着重要作用。\n"
    "儿童接种疫苗可以有效预防麻疹、百日咳和脊髓灰质炎等传染病。家长应按照国家免疫规划按时带孩子接种，并在接种后观察三十分钟。"
    "常见的不良反应包括注射部位红肿和低热，一般在两三天内自行消退。\n"
)

NAV_TOP = ("Home | About us | News and events | Contact us | Search this site | Sign in | Register | "
           "Health topics | Guidelines | Publications | Resources for clinicians | Patient information | ")
NAV_FOOTER = ("Privacy policy | Terms of use | Accessibility statement | Cookie settings | Follow us on Twitter and "
              "Facebook | Subscribe to our newsletter for the latest updates | Help and frequently asked questions | "
              "Site map | Copyright 2024 The Regional Health Information Network. All rights reserved. This page "
              "was last reviewed on 12 March 2024 and is next due for review in March 2026. Report a problem "
              "with this page | Give us your feedback | Jobs and careers at the network | Media enquiries")

ES = (
    "La neumonía adquirida en la comunidad es una de las causas más frecuentes de ingreso hospitalario en los "
    "adultos. El diagnóstico se basa en los síntomas, la exploración física y la radiografía de tórax, y la "
    "gravedad del cuadro debe valorarse con escalas validadas antes de decidir el lugar de tratamiento. "
    "Los pacientes sin enfermedades previas y con síntomas leves pueden recibir amoxicilina por vía oral "
    "durante cinco días en su domicilio, siempre que no tengan alergia a la penicilina. A las cuarenta y ocho "
    "horas conviene revisar la evolución: si la fiebre y la dificultad respiratoria no mejoran, se debe "
    "considerar un cambio de antibiótico o el ingreso en el hospital. En las personas mayores y en quienes "
    "padecen diabetes, insuficiencia cardiaca o enfermedad pulmonar crónica, el riesgo de complicaciones es "
    "mayor y el seguimiento tiene que ser más estrecho. La vacunación frente al neumococo y la gripe reduce "
    "la frecuencia de la enfermedad y sus complicaciones, por lo que se recomienda a todos los adultos de "
    "más de sesenta y cinco años y a los pacientes con enfermedades crónicas. "
)

EN = (
    "Community acquired pneumonia is one of the most common reasons for hospital admission in adults. The "
    "diagnosis rests on the symptoms, the physical examination and a chest radiograph, and the severity of "
    "the illness should be assessed with a validated score before the place of treatment is chosen. "
    "Patients without previous disease and with mild symptoms can be treated at home with oral amoxicillin "
    "for five days, provided that they are not allergic to penicillin. After forty-eight hours the response "
    "should be reviewed: if the fever and the breathlessness have not improved, a change of antibiotic or "
    "admission to hospital should be considered. In older people and in those who have diabetes, heart "
    "failure or chronic lung disease, the risk of complications is higher and follow-up has to be closer. "
    "Vaccination against pneumococcus and influenza reduces how often the disease and its complications "
    "occur, so it is recommended for all adults over sixty-five and for patients with chronic disease. "
)

GAELIC = (
    "Tha an t-sìde fuar an-diugh agus tha an t-uisge ann. Chaidh mi don bhaile mhòr leis a' bhus sa mhadainn. "
    "Bha an dotair ag ràdh gum bu chòir dhomh fois a ghabhail airson seachdain. Tha mo sheanmhair a' fuireach "
    "ann an taigh beag faisg air a' chladach. Bidh sinn a' bruidhinn Gàidhlig aig an taigh, ach tha a' chlann "
    "ag ionnsachadh Beurla san sgoil. Tha an ospadal ùr fosgailte a-nis, agus tha na banaltraman uile glè "
    "chòir. Ma tha thu tinn, cuir fòn chun an lèigh agus innis dha mar a tha thu a' faireachdainn. Feumaidh "
    "tu uisge gu leòr òl agus cadal math fhaighinn. "
)

HMONG = (
    "Kuv niam mus tom tsev kho mob vim nws mob taub hau thiab ua npaws. Tus kws kho mob hais tias nws yuav "
    "tsum so thiab haus dej ntau. Peb tsev neeg nyob hauv ib lub zos me me ze ntawm tus dej. Cov me nyuam "
    "mus kawm ntawv txhua hnub thiab lawv hais lus Hmoob nrog lawv pog yawg. Yog koj mob hnyav, koj yuav "
    "tsum mus ntsib kws kho mob tam sim no. Noj zaub thiab txiv hmab txiv ntoo pab kom lub cev noj qab haus "
    "huv. "
)


def chinese_page() -> str:
    """About 1,000 CJK characters of main text between English navigation and a footer (~700 characters)."""
    return NAV_TOP + "\n" + ZH * 2 + ZH[:200] + "\n" + NAV_FOOTER


def spanish_paper_with_english_abstract() -> str:
    return "Abstract\n" + EN + "\nResumen y texto completo\n" + ES * 4


def english_paper_with_spanish_abstract() -> str:
    return "Resumen\n" + ES + "\nAbstract and full text\n" + EN * 6
